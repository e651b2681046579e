// ringvisor-ctl: asks a running cluster through any of its nodes.
//
// Run: ringvisor-ctl [--node HOST:PORT] [--json] [--timeout SECONDS] COMMAND [ARGS]
//      ringvisor-ctl --node 127.0.0.1:4910 which-children heroes

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <iostream>
#include <map>
#include <optional>
#include <thread>

#include <caf/all.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "ringvisor/actor/blocking.hpp"
#include "ringvisor/actor/directory.hpp"
#include "ringvisor/actor/errc.hpp"
#include "ringvisor/actor/log.hpp"
#include "ringvisor/actor/wire.hpp"
#include "ringvisor/cluster/agent.hpp"
#include "ringvisor/cluster/calls.hpp"
#include "ringvisor/cluster/errc.hpp"
#include "ringvisor/ring/all.hpp"

using namespace ringvisor;
using json = nlohmann::json;

namespace {

constexpr const char* usage = R"(usage: ringvisor-ctl [OPTIONS] COMMAND [ARGS]

Asks a running ringvisor cluster through one of its nodes.

Commands:
  members                        members as the node sees them
  ring [GROUP]                   members of a ring group (default: all members)
  find SUP ID                    where child ID of ring supervisor SUP runs
  which-children SUP             every child of ring supervisor SUP
  call SUP ID ATOM [ARG...]      sends (ATOM, ARG...) to the child, prints the reply
  exec SUP ID FUNCTION [ARG...]  runs an exec function of SUP on the child's node
  leave NODE                     stops member NODE in order; waits until it left
  form                           tells the node (--node), which waits to form a
                                 cluster, to form one with the members it reaches:
                                 for a lone survivor; it may then run what the
                                 others run, if they live (see docs/cluster.md)

Arguments that are whole numbers travel as 64-bit integers, others as strings.

Options:
  --node HOST:PORT   a member's cluster endpoint (default: $RINGVISOR_NODE,
                     else 127.0.0.1:4910, the demo's first node)
  --json             print JSON instead of text
  --timeout SECONDS  how long to wait for an answer (default: 5)
  --ringvisor.secret-file=FILE
                     the cluster secret (mode 0600), as the nodes have it
                     (default: $RINGVISOR_SECRET)
  --ringvisor.cluster-name=NAME
                     the cluster's name, if not the default "ringvisor"
  --ringvisor.insecure
                     talk to nodes that run without a secret
  --ringvisor.tls.ca-file=FILE  --ringvisor.tls.cert-file=FILE
  --ringvisor.tls.key-file=FILE [--ringvisor.tls.key-password-file=FILE]
                     for a cluster that runs TLS: the cluster's CA and a
                     certificate it signed that names ringvisor-ctl
  --help             this text

Exit codes: 0 done; 1 the cluster refused or failed; 2 bad usage;
            3 no such member, supervisor, child, function or message;
            4 the node cannot be reached.
)";

enum exit_code { done = 0, failed = 1, bad_usage = 2, not_found = 3, unreachable = 4 };

struct options {
  std::string node = "127.0.0.1:4910";
  actor::wire_options wire;
  bool json = false;
  caf::timespan timeout = std::chrono::seconds{5};
  std::vector<std::string> words; // the command and its arguments
};

std::optional<options> parse(int argc, char** argv) {
  options result;
  if (auto env = std::getenv("RINGVISOR_NODE"); env != nullptr && *env != '\0')
    result.node = env;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::optional<std::string> {
      if (i + 1 >= argc)
        return std::nullopt;
      return std::string{argv[++i]};
    };
    auto option = [&](const char* key) -> std::optional<std::string> {
      auto prefix = std::string{key} + "=";
      if (arg.rfind(prefix, 0) == 0)
        return arg.substr(prefix.size());
      return std::nullopt;
    };
    // The wire's options that take a value, as the nodes spell them.
    using wire_field = std::string actor::wire_options::*;
    static constexpr std::pair<const char*, wire_field> wire_keys[] = {
      {"--ringvisor.secret-file", &actor::wire_options::secret_file},
      {"--ringvisor.cluster-name", &actor::wire_options::cluster_name},
      {"--ringvisor.tls.ca-file", &actor::wire_options::tls_ca_file},
      {"--ringvisor.tls.cert-file", &actor::wire_options::tls_cert_file},
      {"--ringvisor.tls.key-file", &actor::wire_options::tls_key_file},
      {"--ringvisor.tls.key-password-file", &actor::wire_options::tls_key_password_file},
    };
    auto wire_key = std::find_if(std::begin(wire_keys), std::end(wire_keys),
                                 [&](auto& k) { return option(k.first).has_value(); });
    if (wire_key != std::end(wire_keys)) {
      result.wire.*(wire_key->second) = *option(wire_key->first);
    } else if (arg == "--json") {
      result.json = true;
    } else if (arg == "--ringvisor.insecure") {
      result.wire.insecure = true;
    } else if (arg == "--node") {
      auto v = value();
      if (!v)
        return std::nullopt;
      result.node = *v;
    } else if (arg == "--timeout") {
      auto v = value();
      double seconds = 0;
      if (!v || (seconds = std::atof(v->c_str())) <= 0)
        return std::nullopt;
      result.timeout = std::chrono::duration_cast<caf::timespan>(
        std::chrono::duration<double>(seconds));
    } else if (!result.words.empty() || arg.rfind("--", 0) != 0) {
      result.words.push_back(arg);
    } else {
      return std::nullopt;
    }
  }
  if (result.words.empty())
    return std::nullopt;
  return result;
}

// A number if the whole word is one, else a string.
caf::message to_message(std::optional<caf::atom_value> head,
                        std::vector<std::string>::const_iterator first,
                        std::vector<std::string>::const_iterator last) {
  caf::message_builder mb;
  if (head)
    mb.append(*head);
  for (auto i = first; i != last; ++i) {
    int64_t x = 0;
    auto [end, ec] = std::from_chars(i->data(), i->data() + i->size(), x);
    if (ec == std::errc{} && end == i->data() + i->size())
      mb.append(x);
    else
      mb.append(*i);
  }
  return mb.to_message();
}

// Each element as JSON: strings that hold JSON are embedded, others stay text.
json to_json(const caf::message& msg) {
  auto result = json::array();
  for (size_t i = 0; i < msg.size(); ++i) {
    if (msg.match_element<std::string>(i)) {
      auto& s = msg.get_as<std::string>(i);
      auto parsed = json::parse(s, nullptr, false);
      result.push_back(parsed.is_discarded() ? json(s) : parsed);
    } else if (msg.match_element<int64_t>(i)) {
      result.push_back(msg.get_as<int64_t>(i));
    } else if (msg.match_element<int32_t>(i)) {
      result.push_back(msg.get_as<int32_t>(i));
    } else {
      result.push_back(msg.cvals()->stringify(i));
    }
  }
  return result;
}

std::string to_text(const caf::message& msg) {
  std::string result;
  for (size_t i = 0; i < msg.size(); ++i) {
    if (i > 0)
      result += ' ';
    result += msg.match_element<std::string>(i) ? msg.get_as<std::string>(i)
                                                : msg.cvals()->stringify(i);
  }
  return result;
}

class ctl {
public:
  ctl(caf::actor_system& sys, options opts) : sys_(sys), opts_(std::move(opts)) {
    // nop
  }

  int run() {
    auto& w = opts_.words;
    auto& cmd = w[0];
    auto args = w.size() - 1;
    if (cmd == "members" && args == 0)
      return members();
    if (cmd == "ring" && args <= 1)
      return ring(args == 1 ? w[1] : "");
    if (cmd == "find" && args == 2)
      return find(w[1], w[2]);
    if (cmd == "which-children" && args == 1)
      return which_children(w[1]);
    if (cmd == "call" && args >= 3)
      return call(w[1], w[2]);
    if (cmd == "exec" && args >= 3)
      return exec(w[1], w[2], w[3]);
    if (cmd == "leave" && args == 1)
      return leave(w[1]);
    if (cmd == "form" && args == 0)
      return form();
    std::cerr << usage;
    return bad_usage;
  }

private:
  // -- commands

  int members() {
    auto view = ask_agent<std::vector<cluster::member>>(caf::get_atom::value,
                                                        cluster::members_atom::value);
    if (!view)
      return fail(view.error());
    if (opts_.json) {
      auto out = json::array();
      for (auto& m : *view)
        out.push_back({{"name", m.name},
                       {"endpoint", m.endpoint},
                       {"status", to_string(m.status)},
                       {"incarnation", m.incarnation},
                       {"groups", m.groups},
                       {"services", m.services}});
      std::cout << out.dump(2) << '\n';
      return done;
    }
    std::cout << fmt::format("{:<16} {:<22} {:<9} {:<20} {}\n", "NAME", "ENDPOINT", "STATUS",
                             "INCARNATION", "SERVICES");
    for (auto& m : *view)
      std::cout << fmt::format("{:<16} {:<22} {:<9} {:<20} {}\n", m.name, m.endpoint,
                               to_string(m.status), m.incarnation,
                               fmt::join(m.services, ","));
    return done;
  }

  int ring(const std::string& group) {
    auto names = ask_agent<std::vector<std::string>>(caf::get_atom::value,
                                                     cluster::ring_atom::value, group);
    if (!names)
      return fail(names.error());
    if (opts_.json)
      std::cout << json{{"group", group}, {"members", *names}}.dump(2) << '\n';
    else
      for (auto& n : *names)
        std::cout << n << '\n';
    return done;
  }

  int find(const std::string& sup, const std::string& id) {
    auto where = ring_client(sup).find(id, opts_.timeout);
    if (!where)
      return fail(where.error());
    if (opts_.json)
      std::cout << json{{"id", id}, {"node", where->node}, {"epoch", where->epoch}}.dump(2)
                << '\n';
    else
      std::cout << id << " runs on " << where->node << " (since "
                << ring::render_epoch(where->epoch) << ")\n";
    return done;
  }

  int which_children(const std::string& sup) {
    auto all = ring_client(sup).which_children(opts_.timeout);
    if (!all)
      return fail(all.error());
    std::sort(all->begin(), all->end(), [](auto& x, auto& y) { return x.id < y.id; });
    if (opts_.json) {
      auto out = json::array();
      for (auto& c : *all)
        out.push_back({{"id", c.id},
                       {"type", c.type},
                       {"restart", to_string(c.restart)},
                       {"node", c.where.node},
                       {"epoch", c.where.epoch}});
      std::cout << out.dump(2) << '\n';
      return done;
    }
    std::cout << fmt::format("{:<24} {:<12} {:<10} {}\n", "ID", "TYPE", "RESTART", "NODE");
    for (auto& c : *all)
      std::cout << fmt::format("{:<24} {:<12} {:<10} {}\n", c.id, c.type, to_string(c.restart),
                               c.where.node.empty() ? "-" : c.where.node);
    return done;
  }

  int call(const std::string& sup, const std::string& id) {
    auto& w = opts_.words;
    if (w[3].size() > 10) {
      std::cerr << "ringvisor-ctl: '" << w[3] << "' is no atom: at most 10 characters\n";
      return bad_usage;
    }
    auto msg = to_message(caf::atom_from_string(w[3]), w.begin() + 4, w.end());
    auto reply = ring_client(sup).call(id, std::move(msg), opts_.timeout);
    return print_reply(reply);
  }

  int exec(const std::string& sup, const std::string& id, const std::string& function) {
    auto& w = opts_.words;
    auto reply = ring_client(sup).exec(id, function, to_message(std::nullopt, w.begin() + 4, w.end()),
                                opts_.timeout);
    return print_reply(reply);
  }

  int form() {
    auto ok = ask_agent<caf::ok_atom>(cluster::form_atom::value);
    if (!ok)
      return fail(ok.error());
    auto status = ask_agent<cluster::cluster_status>(caf::get_atom::value,
                                                     cluster::status_atom::value);
    if (!status)
      return fail(status.error());
    say(json{{"node", opts_.node}, {"status", cluster::to_string(*status)}},
        opts_.node + " may form a cluster; its status: " + cluster::to_string(*status));
    return done;
  }

  int leave(const std::string& name) {
    auto view = ask_agent<std::vector<cluster::member>>(caf::get_atom::value,
                                                        cluster::members_atom::value);
    if (!view)
      return fail(view.error());
    auto agent = lookup("cluster");
    if (!agent)
      return fail(agent.error());
    if (auto err = cluster::stop_member(sys_, *agent, name, opts_.timeout))
      return fail(err);
    // It left once another member sees it removed (its children moved).
    auto witness = std::find_if(view->begin(), view->end(), [&](auto& m) {
      return m.name != name && m.status == cluster::member_status::up;
    });
    if (witness == view->end()) {
      say(json{{"stopping", name}}, name + " is stopping (it was the last member)");
      return done;
    }
    if (auto dir = actor::remote_directory(sys_, witness->endpoint, opts_.timeout))
      dir_ = *dir;
    else
      return fail(dir.error(), unreachable);
    auto deadline = std::chrono::steady_clock::now() + opts_.timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      auto now = ask_agent<std::vector<cluster::member>>(caf::get_atom::value,
                                                         cluster::members_atom::value);
      if (now && std::any_of(now->begin(), now->end(), [&](auto& x) {
            return x.name == name && x.status == cluster::member_status::removed;
          })) {
        say(json{{"left", name}}, name + " left");
        return done;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds{50});
    }
    std::cerr << "ringvisor-ctl: " << name << " was asked to stop but " << witness->name
              << " does not see it removed after "
              << std::chrono::duration<double>(opts_.timeout).count() << " s\n";
    return failed;
  }

  // -- helpers

  void say(const json& as_json, const std::string& as_text) {
    std::cout << (opts_.json ? as_json.dump() : as_text) << '\n';
  }

  int print_reply(const caf::expected<caf::message>& reply) {
    if (!reply)
      return fail(reply.error());
    if (opts_.json)
      std::cout << json{{"reply", to_json(*reply)}}.dump(2) << '\n';
    else
      std::cout << to_text(*reply) << '\n';
    return done;
  }

  template <class T, class... Ts>
  caf::expected<T> ask(const caf::actor& dest, Ts&&... xs) {
    return actor::blocking_request<T>(sys_, dest, opts_.timeout, std::forward<Ts>(xs)...);
  }

  caf::expected<caf::actor> directory() {
    if (!dir_) {
      auto dir = actor::remote_directory(sys_, opts_.node, opts_.timeout);
      if (!dir)
        return caf::make_error(caf::sec::cannot_connect_to_node,
                               "cannot reach " + opts_.node + ": " + actor::render(dir.error()));
      dir_ = *dir;
    }
    return dir_;
  }

  caf::expected<caf::actor> lookup(const std::string& name) {
    auto dir = directory();
    if (!dir)
      return dir;
    return ask<caf::actor>(*dir, caf::get_atom::value, name);
  }

  // The ring supervisor `sup`, through the given node first and any other
  // member when that one dies, hangs or is split off.
  ring::client ring_client(const std::string& sup) {
    return ring::client{sys_, sup, {opts_.node}};
  }

  template <class T, class... Ts>
  caf::expected<T> ask_agent(Ts&&... xs) {
    auto agent = lookup("cluster");
    if (!agent)
      return std::move(agent.error());
    return ask<T>(*agent, std::forward<Ts>(xs)...);
  }

  int fail(const caf::error& err, std::optional<int> code = std::nullopt) {
    std::cerr << "ringvisor-ctl: " << actor::render(err) << '\n';
    if (code)
      return *code;
    if (err == caf::sec::cannot_connect_to_node || err == caf::sec::request_timeout)
      return unreachable;
    if (err == supervision::errc::not_found || err == actor::errc::not_registered
        || err == cluster::errc::not_member || err == caf::sec::unexpected_message)
      return not_found;
    return failed;
  }

  caf::actor_system& sys_;
  options opts_;
  caf::actor dir_;
};

} // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (std::string{argv[i]} == "--help" || std::string{argv[i]} == "-h") {
      std::cout << usage;
      return done;
    }
  auto opts = parse(argc, argv);
  if (!opts) {
    std::cerr << usage;
    return bad_usage;
  }
  ringvisor::log::configure(ringvisor::log::level::warn, "ringvisor-ctl");
  caf::actor_system_config cfg;
  cfg.set("scheduler.max-threads", 2);
  ringvisor::add_types(cfg);
  if (auto err = actor::use_wire(cfg, opts->wire, "ringvisor-ctl")) {
    std::cerr << "ringvisor-ctl: " << actor::render(err) << '\n';
    return bad_usage;
  }
  caf::actor_system sys{cfg};
  return ctl{sys, std::move(*opts)}.run();
}
