#include "ringvisor/actor/node_config.hpp"

#include <algorithm>
#include <fstream>
#include <iostream>
#include <sstream>

#include <unistd.h>

#include <caf/config_option_adder.hpp>
#include <caf/pec.hpp>
#include <caf/settings.hpp>

#include "ringvisor/actor/errc.hpp"
#include "ringvisor/actor/log.hpp"
#include "ringvisor/actor/scheduler.hpp"
#include "ringvisor/actor/types.hpp"

namespace ringvisor::actor {

namespace {

bool valid_name(const std::string& x) {
  if (x.empty() || x.size() > 64)
    return false;
  for (auto c : x)
    if (!(isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_'
          || c == '.'))
      return false;
  return true;
}

// Accepts `host:port` with a non-empty host and a port in 1..65535.
bool valid_endpoint(const std::string& x) {
  auto colon = x.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == x.size())
    return false;
  auto port = x.substr(colon + 1);
  if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos)
    return false;
  auto value = std::stoul(port);
  return value >= 1 && value <= 65535;
}

std::string line_of(const std::string& text, size_t line) {
  std::istringstream in{text};
  std::string result;
  for (size_t i = 0; i < line && std::getline(in, result); ++i)
    ; // nop
  return result;
}

std::string read_file(const std::string& path) {
  std::ifstream in{path};
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

bool asks_for_help(const std::string& arg) {
  return arg == "--help" || arg == "-h" || arg == "-?" || arg == "--long-help";
}

// CAF's own option categories: listed after the program's.
bool is_cafs(caf::string_view category) {
  for (auto x : {"global", "stream", "scheduler", "work-stealing", "logger", "middleman",
                 "openssl", "opencl"})
    if (category == caf::string_view{x})
      return true;
  return false;
}

std::string str(caf::string_view x) {
  return std::string{x.data(), x.size()};
}

// One line per option: `--section.name=<type>  description`.
void print_option(std::ostream& out, const caf::config_option& x) {
  auto category = x.category();
  std::string name = "--";
  if (category != caf::string_view{"global"})
    name += str(category) + ".";
  name += str(x.long_name());
  for (auto c : x.short_names())
    name += std::string{", -"} + c;
  if (!x.is_flag())
    name += "=<" + str(x.type_name()) + ">";
  out << "  " << name;
  if (name.size() < 40)
    out << std::string(40 - name.size(), ' ');
  else
    out << "\n" << std::string(42, ' ');
  // CAF says STDERR, but prints to stdout.
  if (x.long_name() == caf::string_view{"dump-config"})
    out << "print the effective configuration (to stdout) and exit\n";
  else
    out << str(x.description()) << '\n';
}

} // namespace

void node_config::print_help(std::ostream& out) const {
  out << "Options. Each also goes in the config file (--config-file, default "
      << config_file_path << "),\nas name=value under [section].\n\n";
  for (bool cafs : {false, true}) {
    std::string last;
    for (auto& x : custom_options_) {
      if (is_cafs(x.category()) != cafs)
        continue;
      if (x.long_name() == caf::string_view{"help"}
          || x.long_name() == caf::string_view{"long-help"})
        continue; // ours below
      auto section = cafs ? std::string{"CAF"} : str(x.category());
      if (section != last) {
        out << (last.empty() ? "" : "\n") << section << ":\n";
        last = section;
        if (cafs)
          out << "  --help, -h, -?                          "
                 "print this text (to stdout) and exit\n";
      }
      print_option(out, x);
    }
  }
}

node_config::node_config() {
  add_types(*this);
  // Idle workers of CAF's work-stealing scheduler poll with sleeps of 50 us
  // (60-110 us in practice) before they wait on a condition variable, so a
  // message from the wire's I/O thread waited for the next poll: a remote
  // request took 127 us at p50 instead of 65 us (docs/benchmarks.md). Without
  // that phase they spin briefly, then wait and are woken at once.
  set("work-stealing.moderate-poll-attempts", size_t{0});
  use_quiet_timer(*this);
  opt_group{custom_options_, "ringvisor"}
    .add(name, "name", "logical node name, unique in the cluster")
    .add(host, "host", "address to listen on and advertise")
    .add(port, "port", "TCP port of the node (0 = pick a free one)")
    .add(seeds, "seeds", "nodes to join, as [\"host:port\", ...]")
    .add(consensus, "consensus", "members needed before the cluster is up")
    .add(data_dir, "data-dir", "directory for what survives a restart (membership)")
    .add(form_alone, "form-alone", "with seeds, form a cluster alone if no seed answers")
    .add(split_brain, "split-brain",
         "keep-majority, static-quorum, keep-oldest or down-all")
    .add(quorum, "quorum", "side size that wins under static-quorum")
    .add(heartbeat_interval, "heartbeat-interval",
         "how often the cluster agent pings its peers")
    .add(suspect_after, "suspect-after",
         "a peer silent for this long is unreachable")
    .add(groups, "groups", "named rings to join, as [\"name\", ...]")
    .add(log_level, "log-level", "trace, debug, info, warn, error or off")
    .add(shutdown_grace, "shutdown-grace",
         "time an orderly shutdown waits before killing actors");
  add_wire_options(custom_options_, wire);
}

caf::error node_config::read(int argc, char** argv) {
  std::vector<std::string> args{argv + std::min(argc, 1), argv + argc};
  // Find the INI file the way CAF does, so that its errors can quote it.
  std::string path = config_file_path;
  for (auto& arg : args)
    if (arg.rfind("--config-file=", 0) == 0)
      path = arg.substr(14);
  std::string text;
  if (std::ifstream probe{path}; probe.good())
    text = read_file(path);
  else if (path != config_file_path)
    return make_error(errc::bad_config, "cannot open config file " + path);
  return read(std::move(args), text);
}

caf::error node_config::read(std::vector<std::string> args,
                             const std::string& ini_text) {
  // CAF's --help lists its global options only (and says it writes to
  // stderr, but writes to stdout): list every option instead.
  if (std::any_of(args.begin(), args.end(), asks_for_help)) {
    print_help(std::cout);
    cli_helptext_printed = true;
    return caf::none;
  }
  // Drop --config-file, which the caller consumed.
  args.erase(std::remove_if(args.begin(), args.end(),
                            [](const std::string& x) {
                              return x.rfind("--config-file=", 0) == 0;
                            }),
             args.end());
  // CAF's INI reader drops unknown keys and values of the wrong type without
  // a word, so read the file raw first and check every key ourselves.
  caf::settings raw;
  std::istringstream raw_ini{ini_text};
  if (auto err = parse_config(raw_ini, caf::config_option_set{}, raw))
    return explain(err, ini_text);
  if (auto err = check_keys(raw))
    return err;
  std::istringstream ini{ini_text};
  if (auto err = parse(std::move(args), ini))
    return explain(err, ini_text);
  if (!remainder.empty())
    return make_error(errc::bad_config,
                      "unexpected argument '" + remainder.front() + "'",
                      "options look like --ringvisor.port=4900");
  if (cli_helptext_printed)
    return caf::none;
  return validate();
}

caf::error node_config::explain(const caf::error& err,
                                const std::string& ini_text) const {
  // CAF's parser errors carry {"line", "column"} or {"argument"}.
  if (err.context().match_elements<caf::settings>()) {
    auto& where = err.context().get_as<caf::settings>(0);
    auto code = to_string(static_cast<caf::pec>(err.code()));
    if (auto arg = caf::get_if<std::string>(&where, "argument"))
      return make_error(errc::bad_config,
                        "command line argument '" + *arg + "': " + code,
                        "run with --help to list all options");
    auto line = caf::get_or(where, "line", int64_t{0});
    auto column = caf::get_or(where, "column", int64_t{0});
    if (column <= 1 && line > 1) {
      // The parser stopped on the newline that ends the previous line.
      --line;
      column = static_cast<int64_t>(line_of(ini_text, line).size()) + 1;
    }
    return make_error(errc::bad_config,
                      "config file line " + std::to_string(line) + " column "
                        + std::to_string(column) + ": " + code,
                      "in: " + line_of(ini_text, static_cast<size_t>(line)));
  }
  return make_error(errc::bad_config, caf::to_string(err));
}

caf::error node_config::check_keys(const caf::settings& raw) const {
  std::vector<std::pair<std::string, const caf::settings*>> todo{{"", &raw}};
  while (!todo.empty()) {
    auto [prefix, dict] = todo.back();
    todo.pop_back();
    for (auto& [key, value] : *dict) {
      auto qualified = prefix.empty() ? key : prefix + "." + key;
      if (auto sub = caf::get_if<caf::settings>(&value)) {
        todo.emplace_back(qualified, sub);
        continue;
      }
      auto lookup = prefix.empty() ? "global." + key : qualified;
      auto opt = custom_options_.qualified_name_lookup(lookup);
      if (opt == nullptr)
        return make_error(errc::bad_config,
                          "unknown option '" + qualified + "'",
                          "run with --help to list all options");
      // CAF's INI reader drops values of the wrong type without a word.
      if (auto err = opt->check(value))
        return make_error(errc::bad_config,
                          "invalid value " + caf::to_string(value) + " for '"
                            + qualified + "'",
                          "expected " + std::string{opt->type_name().data(),
                                                    opt->type_name().size()});
    }
  }
  return caf::none;
}

caf::settings node_config::dump_content() const {
  auto result = caf::actor_system_config::dump_content();
  auto& section = result["ringvisor"].as_dictionary();
  caf::put_missing(section, "name", name);
  caf::put_missing(section, "host", host);
  caf::put_missing(section, "port", static_cast<int64_t>(port));
  caf::put_missing(section, "seeds", seeds);
  caf::put_missing(section, "consensus", static_cast<int64_t>(consensus));
  caf::put_missing(section, "data-dir", data_dir);
  caf::put_missing(section, "form-alone", form_alone);
  caf::put_missing(section, "split-brain", split_brain);
  caf::put_missing(section, "quorum", static_cast<int64_t>(quorum));
  caf::put_missing(section, "heartbeat-interval", heartbeat_interval);
  caf::put_missing(section, "suspect-after", suspect_after);
  caf::put_missing(section, "groups", groups);
  caf::put_missing(section, "log-level", log_level);
  caf::put_missing(section, "shutdown-grace", shutdown_grace);
  caf::put_missing(section, "cluster-name", wire.cluster_name);
  caf::put_missing(section, "secret-file", wire.secret_file);
  caf::put_missing(section, "insecure", wire.insecure);
  return result;
}

caf::error node_config::validate() {
  auto bad = [](const std::string& key, const std::string& what) {
    return make_error(errc::bad_config, "ringvisor." + key + ": " + what);
  };
  if (name.empty())
    name = "node-" + std::to_string(::getpid());
  if (!valid_name(name))
    return bad("name", "'" + name
                         + "' must be 1 to 64 letters, digits, '-', '_' or '.'");
  if (host.empty())
    return bad("host", "must not be empty");
  for (auto& seed : seeds)
    if (!valid_endpoint(seed))
      return bad("seeds", "'" + seed + "' is not host:port with a port in 1..65535");
  if (consensus == 0)
    return bad("consensus", "must be at least 1");
  // The spellings of cluster::split_brain_strategy (libcluster's tests
  // check that both agree).
  static constexpr const char* strategies[] = {"keep-majority", "static-quorum",
                                               "keep-oldest", "down-all"};
  if (std::find(std::begin(strategies), std::end(strategies), split_brain)
      == std::end(strategies))
    return bad("split-brain", "unknown strategy '" + split_brain
                                + "', use keep-majority, static-quorum, "
                                  "keep-oldest or down-all");
  if (split_brain == "static-quorum" && quorum == 0)
    return bad("quorum", "static-quorum needs ringvisor.quorum of at least 1");
  if (heartbeat_interval.count() <= 0 || suspect_after <= heartbeat_interval)
    return bad("suspect-after", "must be longer than ringvisor.heartbeat-interval");
  for (auto& group : groups)
    if (!valid_name(group))
      return bad("groups", "'" + group
                             + "' must be 1 to 64 letters, digits, '-', '_' or '.'");
  log::level lvl;
  if (!log::parse_level(log_level, lvl))
    return bad("log-level", "'" + log_level
                              + "' is not one of trace, debug, info, warn, "
                                "error, off");
  if (shutdown_grace.count() < 0)
    return bad("shutdown-grace", "must not be negative");
  return actor::validate(wire, name);
}

} // namespace ringvisor::actor
