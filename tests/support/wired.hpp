#pragma once

// Actor systems on the wire inside one test process, each listening on
// 127.0.0.1 with its own directory: for tests of remote handles over real
// loopback TCP.

#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include <caf/all.hpp>

#include "ringvisor/actor/directory.hpp"
#include "ringvisor/actor/errc.hpp"
#include "ringvisor/actor/scheduler.hpp"
#include "ringvisor/actor/types.hpp"
#include "ringvisor/actor/wire.hpp"
#include "support/temp_dir.hpp"

namespace ringvisor::test {

using namespace std::chrono_literals;

using hold_atom = caf::atom_constant<caf::atom("hold")>;
using relay_atom = caf::atom_constant<caf::atom("relay")>;

/// Writes `secret` to a file only its owner may read.
inline std::string secret_file(const test::temp_dir& dir, const std::string& name,
                        const std::string& secret) {
  auto path = dir.file(name);
  std::ofstream{path} << secret << '\n';
  ::chmod(path.c_str(), 0600);
  return path;
}

/// One process's actor system on the wire, listening on 127.0.0.1.
struct wired {
  wired(const std::string& name, const std::string& secret_path, size_t max_frame = 4u << 20)
    : wired(name, options(secret_path, max_frame)) {
    // nop
  }

  wired(const std::string& name, const actor::wire_options& opts) {
    actor::add_types(cfg);
    actor::use_quiet_timer(cfg); // as nodes run
    auto err = actor::use_wire(cfg, opts, name, "127.0.0.1");
    REQUIRE_MESSAGE(!err, actor::render(err));
    sys = std::make_unique<caf::actor_system>(cfg);
    dir = actor::spawn_directory(*sys);
    auto p = actor::wire_listen(*sys, "127.0.0.1", 0, dir);
    REQUIRE(p);
    port = *p;
  }

  ~wired() {
    // Actors pinned by the wire must be gone before the system goes.
    {
      caf::scoped_actor self{*sys};
      owned.push_back(dir);
      for (auto& hdl : owned) {
        self->monitor(hdl);
        self->send_exit(hdl, caf::exit_reason::kill);
        self->receive([](const caf::down_msg&) {});
      }
    }
    sys->await_actors_before_shutdown(false);
  }

  std::string endpoint() const {
    return "127.0.0.1:" + std::to_string(port);
  }

  // Registers `hdl` under `name` in this system's directory; it ends with
  // the system.
  void put(const std::string& name, const caf::actor& hdl) {
    owned.push_back(hdl);
    caf::scoped_actor self{*sys};
    self->request(dir, 1s, caf::put_atom::value, name, hdl).receive([](caf::ok_atom) {},
                                                                   [](caf::error& err) {
                                                                     FAIL(actor::render(err));
                                                                   });
  }

  // Looks up `name` in the directory at `endpoint`, through the wire.
  caf::actor lookup(const std::string& endpoint, const std::string& name) {
    auto remote = actor::remote_directory(*sys, endpoint, 2s);
    REQUIRE_MESSAGE(remote, actor::render(remote.error()));
    caf::actor result;
    caf::scoped_actor self{*sys};
    self->request(*remote, 2s, caf::get_atom::value, name)
      .receive([&](const caf::actor& x) { result = x; },
               [](caf::error& err) { FAIL(actor::render(err)); });
    REQUIRE(result);
    return result;
  }

  static actor::wire_options options(const std::string& secret_path, size_t max_frame) {
    actor::wire_options opts;
    opts.secret_file = secret_path;
    opts.max_frame = max_frame;
    opts.max_queue = std::max<size_t>(opts.max_queue, max_frame);
    return opts;
  }

  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  caf::actor dir;
  std::vector<caf::actor> owned;
  uint16_t port = 0;
};

/// Answers an int with its double; `hold` requests stay unanswered; replies
/// to a handle it gets with a plain send; `relay` delegates to another actor.
inline caf::behavior worker(caf::event_based_actor* self) {
  return {
    [](int32_t x) { return x * 2; },
    [self](hold_atom) { return self->make_response_promise<int32_t>(); },
    [self](const caf::actor& reply_to, int32_t x) { self->send(reply_to, x + 1); },
    [self](relay_atom, const caf::actor& next, int32_t x) {
      return self->delegate(next, x);
    },
    [self](caf::exit_msg& msg) { self->quit(msg.reason); },
  };
}

} // namespace ringvisor::test
