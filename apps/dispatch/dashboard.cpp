#include "dashboard.hpp"

#include <algorithm>
#include <chrono>
#include <future>
#include <map>
#include <optional>
#include <string_view>

#include <unistd.h>

#include <caf/all.hpp>
#include <httplib.h>

#include "cluster_state.hpp"
#include "hero.hpp"
#include "http_front.hpp"
#include "metrics.hpp"
#include "ringvisor/actor/blocking.hpp"
#include "ringvisor/actor/errc.hpp"
#include "ringvisor/actor/log.hpp"
#include "ringvisor/actor/wire.hpp"
#include "ringvisor/cluster/agent.hpp"
#include "ringvisor/cluster/calls.hpp"
#include "ringvisor/cluster/errc.hpp"
#include "ringvisor/cluster/hash_ring.hpp"
#include "ringvisor/ring/supervisor.hpp"
#include "ringvisor/supervision/errc.hpp"

namespace dispatch {

extern const std::string_view index_html; // web_assets.cpp, generated from web/index.html

namespace {

namespace rv = ringvisor;
using json = nlohmann::json;
namespace ring = rv::ring;
namespace sup = rv::supervision;
using rv::actor::blocking_request;
using request = httplib::Request;
using response = httplib::Response;

constexpr size_t max_name_length = 64;
/// Slices of the ring the page draws: finer than its pixels, so that the
/// arcs of a thousand virtual nodes per member keep their places.
constexpr size_t ring_slices = 4096;
constexpr size_t max_body = 16 * 1024;

// -- HTTP helpers -----------------------------------------------------------------

void reply_json(response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

void reply_error(response& res, int status, const std::string& what) {
  reply_json(res, status, json{{"error", what}});
}

// Maps an error from the cluster to a status a client can act on: 4xx for
// the request, 503 for "try again" (no owner now, the supervisor
// restarting), 502/504 for a node that does not answer.
int status_of(const caf::error& err) {
  if (err.category() == sup::errc_category) {
    switch (static_cast<sup::errc>(err.code())) {
      case sup::errc::not_found:
        return 404;
      case sup::errc::already_present:
      case sup::errc::already_started:
        return 409;
      case sup::errc::bad_spec:
        return 400;
      case sup::errc::no_owner:
      case sup::errc::shutting_down:
        return 503;
      default:
        return 500;
    }
  }
  if (err == rv::cluster::errc::not_member)
    return 404;
  if (err == rv::actor::errc::not_registered || err.category() == rv::cluster::errc_category)
    return 503;
  if (err == caf::sec::request_timeout)
    return 504;
  if (err == caf::sec::cannot_connect_to_node)
    return 502;
  return 500;
}

void reply_error(response& res, const caf::error& err) {
  reply_error(res, status_of(err), rv::actor::render(err));
}

// Whether `x` is valid UTF-8 without control characters (C0, DEL, C1):
// names end up in terminals and logs, where ESC sequences do harm.
bool printable(std::string_view x) {
  for (size_t i = 0; i < x.size();) {
    auto c = static_cast<unsigned char>(x[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    if (n == 0 || i + n > x.size())
      return false;
    uint32_t cp = n == 1 ? c : c & (0x7f >> n);
    for (size_t k = 1; k < n; ++k) {
      auto cc = static_cast<unsigned char>(x[i + k]);
      if ((cc >> 6) != 0x2)
        return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    static constexpr uint32_t shortest[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < shortest[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
      return false; // overlong, out of range, or a surrogate
    if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0))
      return false;
    i += n;
  }
  return true;
}

// Compares without an early exit, so that response times do not tell how
// much of a guessed token was right.
bool same_token(std::string_view x, std::string_view y) {
  unsigned char diff = x.size() == y.size() ? 0 : 1;
  for (size_t i = 0; i < std::min(x.size(), y.size()); ++i)
    diff |= static_cast<unsigned char>(x[i] ^ y[i]);
  return diff == 0;
}

} // namespace

// -- the server ---------------------------------------------------------------------

struct dashboard::impl {
  impl(rv::actor::node& n, dashboard_options o)
    : node(n), opts(std::move(o)), meters(n.identity().name) {
    // nop
  }

  caf::actor_system& sys() {
    return node.system();
  }

  caf::expected<std::vector<rv::cluster::member>> members() {
    return blocking_request<std::vector<rv::cluster::member>>(
      sys(), opts.agent, opts.timeout, caf::get_atom::value, rv::cluster::members_atom::value);
  }

  // The names of the members on the whole cluster's ring (group "").
  caf::expected<std::vector<std::string>> ring_members() {
    return blocking_request<std::vector<std::string>>(sys(), opts.agent, opts.timeout,
                                                      caf::get_atom::value,
                                                      rv::cluster::ring_atom::value, std::string{});
  }

  // The heroes' ring supervisor, looked up at every request: its parent
  // may have restarted it.
  caf::expected<ring::ref> heroes() {
    auto found = ring::lookup(node, opts.heroes);
    if (!found)
      return found;
    return found->within(opts.timeout);
  }

  // -- routes

  enum class method { get, post, del };
  using handler = void (impl::*)(const request&, response&);

  void routes() {
    serve(method::get, "/", "/", &impl::page);
    serve(method::get, "/api/state", "/api/state", &impl::get_state);
    serve(method::get, "/api/ring", "/api/ring", &impl::get_ring);
    serve(method::get, "/favicon.svg", "/favicon", &impl::icon);
    serve(method::get, "/favicon.ico", "/favicon", &impl::icon); // asked for by habit
    serve(method::post, "/api/heroes", "/api/heroes", &impl::create_hero, "create");
    serve(method::del, R"(/api/heroes/([a-z0-9-]+))", "/api/heroes/:id", &impl::retire_hero,
          "retire");
    serve(method::post, R"(/api/heroes/([a-z0-9-]+)/pause)", "/api/heroes/:id/pause",
          &impl::pause_hero, "pause");
    serve(method::post, R"(/api/heroes/([a-z0-9-]+)/resume)", "/api/heroes/:id/resume",
          &impl::resume_hero, "resume");
    serve(method::post, R"(/api/heroes/([a-z0-9-]+)/move)", "/api/heroes/:id/move",
          &impl::move_hero, "move");
    serve(method::post, R"(/api/nodes/([^/]+)/stop)", "/api/nodes/:name/stop", &impl::stop_node,
          "stop");
    serve(method::get, "/metrics", "/metrics", &impl::metrics_text);
    server.set_payload_max_length(max_body);
    // Every change needs the token. A change without a body is answered
    // before httplib would refuse it for that: a stranger learns nothing
    // about what a change needs. One with a body is read first (its bytes
    // would otherwise be taken for the next request on the connection),
    // then refused by its route.
    server.set_pre_routing_handler([this](const request& req, response& res) {
      auto length = req.get_header_value("Content-Length");
      bool unread = (!length.empty() && length != "0") || req.has_header("Transfer-Encoding");
      return is_change(req) && !unread && !authorized(req, res)
               ? httplib::Server::HandlerResponse::Handled
               : httplib::Server::HandlerResponse::Unhandled;
    });
    // What httplib refuses by itself (no body, too large, no route) gets a
    // body that says so, like every other error.
    server.set_error_handler([](const request& req, response& res) {
      if (!res.body.empty())
        return;
      switch (res.status) {
        case 400:
          reply_error(res, 400,
                      "bad request: it could not be read (a change needs a JSON body and its "
                      "Content-Length)");
          break;
        case 404:
          reply_error(res, 404, "no such resource: " + req.path);
          break;
        case 413:
          reply_error(res, 413, "the body is larger than " + std::to_string(max_body) + " bytes");
          break;
        default:
          reply_error(res, res.status, "HTTP error " + std::to_string(res.status));
      }
    });
    server.set_exception_handler([](const request& req, response& res, std::exception_ptr ep) {
      std::string what = "unknown";
      try {
        std::rethrow_exception(ep);
      } catch (const std::exception& e) {
        what = e.what();
      } catch (...) {
      }
      rv::log::error("http_handler_failed", {{"path", req.path}, {"what", what}});
      reply_error(res, 500, "internal error; the node's log has the details");
    });
  }

  // Adds a route, timed under `route`; a change that passed the token check
  // is audited as `action`.
  void serve(method how, const std::string& pattern, const std::string& route, handler fn,
             const char* action = nullptr) {
    static constexpr const char* names[] = {"GET", "POST", "DELETE"};
    auto& h = meters.route(std::string{names[static_cast<int>(how)]} + " " + route);
    auto timed = [this, &h, fn, action](const request& req, response& res) {
      auto t0 = std::chrono::steady_clock::now();
      if (!is_change(req) || authorized(req, res)) {
        (this->*fn)(req, res);
        if (action != nullptr)
          audit(req, res, action);
      }
      h.Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    };
    switch (how) {
      case method::get:
        server.Get(pattern, timed);
        break;
      case method::post:
        server.Post(pattern, timed);
        break;
      case method::del:
        server.Delete(pattern, timed);
        break;
    }
  }

  static bool is_change(const request& req) {
    return req.method != "GET" && req.method != "HEAD";
  }

  bool authorized(const request& req, response& res) {
    auto header = req.get_header_value("Authorization");
    constexpr std::string_view bearer = "Bearer ";
    if (header.rfind(bearer, 0) == 0
        && same_token(std::string_view{header}.substr(bearer.size()), opts.token))
      return true;
    reply_error(res, 401,
                "this request needs the node's token: 'Authorization: Bearer <token>' "
                "(printed by the node at start-up, option dispatch.token)");
    return false;
  }

  // Records a change made through this dashboard, whatever came of it: in
  // the node's log and on every member's board, whose entries the pages show.
  void audit(const request& req, const response& res, const char* action) {
    audit_entry x;
    x.at_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::system_clock::now().time_since_epoch())
                .count();
    x.node = node.identity().name;
    x.client = req.remote_addr;
    x.action = action;
    auto body = json::parse(res.body, nullptr, false);
    auto field = [&body](const char* key) {
      return body.is_object() && body.contains(key) && body[key].is_string()
               ? body[key].get<std::string>()
               : std::string{};
    };
    x.target = req.matches.size() > 1 ? req.matches[1].str() : field("id"); // created: its id
    if (x.action == "move") {                                               // where to, as asked
      auto to = destination(req);
      x.target += " to " + (!to ? "?" : to->empty() ? "its ring owner" : *to);
    }
    x.outcome = res.status < 300 ? "ok" : field("error");
    if (x.outcome.empty())
      x.outcome = "HTTP " + std::to_string(res.status);
    rv::log::info(
      "audit",
      {{"client", x.client}, {"action", x.action}, {"target", x.target}, {"outcome", x.outcome}});
    // Every member keeps a copy: the list outlives the node that took it.
    rv::cluster::multicast(opts.agent, board_name,
                           caf::make_message(caf::put_atom::value, std::move(x)));
  }

  // -- handlers

  void page(const request&, response& res) {
    res.set_content(index_html.data(), index_html.size(), "text/html; charset=utf-8");
  }

  // A ring of three nodes, the page's accent colours.
  void icon(const request&, response& res) {
    static constexpr std::string_view svg =
      R"(<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">)"
      R"(<circle cx="16" cy="16" r="11" fill="none" stroke="#6aa8ff" stroke-width="3"/>)"
      R"(<circle cx="16" cy="5" r="4" fill="#3ecf8e"/><circle cx="25.5" cy="21.5" r="4" )"
      R"(fill="#f5a524"/><circle cx="6.5" cy="21.5" r="4" fill="#f2555a"/></svg>)";
    res.set_header("Cache-Control", "max-age=86400");
    res.set_content(svg.data(), svg.size(), "image/svg+xml");
  }

  void get_state(const request&, response& res) {
    auto state = cluster_state();
    if (!state)
      return reply_error(res, state.error());
    reply_json(res, 200, *state);
  }

  void create_hero(const request& req, response& res) {
    auto body = json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object() || !body.contains("name")
        || !body["name"].is_string())
      return reply_error(res, 400, R"(expected a JSON object like {"name": "Storm"})");
    auto name = body["name"].get<std::string>();
    if (hero_id(name).empty() || name.size() > max_name_length || !printable(name))
      return reply_error(res, 400,
                         "a hero's name needs a letter or digit, at most "
                           + std::to_string(max_name_length)
                           + " bytes and no control characters");
    auto hdl = heroes();
    if (!hdl)
      return reply_error(res, hdl.error());
    auto spec = hero_spec(name);
    auto id = spec.id;
    auto where = hdl->start_child(std::move(spec));
    if (!where)
      return reply_error(res, where.error());
    rv::log::info("hero_created", {{"id", id}, {"node", where->node}});
    reply_json(res, 201, json{{"id", id}, {"node", where->node}, {"epoch", where->epoch}});
  }

  void retire_hero(const request& req, response& res) {
    auto id = req.matches[1].str();
    auto hdl = heroes();
    if (!hdl)
      return reply_error(res, hdl.error());
    if (auto err = hdl->delete_child(id))
      return reply_error(res, err);
    reply_json(res, 200, json{{"deleted", id}});
  }

  void pause_hero(const request& req, response& res) {
    set_paused(req, res, true);
  }

  void resume_hero(const request& req, response& res) {
    set_paused(req, res, false);
  }

  void set_paused(const request& req, response& res, bool pause) {
    auto id = req.matches[1].str();
    auto hdl = heroes();
    if (!hdl)
      return reply_error(res, hdl.error());
    auto paused =
      pause ? hdl->call<bool>(id, pause_atom::value) : hdl->call<bool>(id, resume_atom::value);
    if (!paused)
      return reply_error(res, paused.error());
    reply_json(res, 200, json{{"id", id}, {"paused", *paused}});
  }

  // The node a move asks for (`{"node": "b"}`; "": back to the hero's ring
  // owner), if the body names one.
  static std::optional<std::string> destination(const request& req) {
    auto body = json::parse(req.body, nullptr, false);
    if (!body.is_object() || !body.contains("node") || !body["node"].is_string())
      return std::nullopt;
    return body["node"].get<std::string>();
  }

  // Moves a hero to a node and keeps it there while the node is on the
  // ring (`ring::ref::pin_child`); `{"node": ""}` gives it back to its ring
  // owner.
  void move_hero(const request& req, response& res) {
    auto id = req.matches[1].str();
    auto to = destination(req);
    if (!to)
      return reply_error(
        res, 400, R"(expected a JSON object like {"node": "b"} ("": back to its ring owner))");
    auto hdl = heroes();
    if (!hdl)
      return reply_error(res, hdl.error());
    if (auto err = hdl->pin_child(id, *to))
      return reply_error(res, err);
    reply_json(res, 200, json{{"id", id}, {"pin", *to}});
  }

  void stop_node(const request& req, response& res) {
    auto name = req.matches[1].str();
    if (auto err = rv::cluster::stop_member(sys(), opts.agent, name, opts.timeout))
      return reply_error(res, err);
    rv::log::info("node_stop_requested", {{"node", name}});
    reply_json(res, 202, json{{"stopping", name}});
  }

  // The ring as the page draws it: its members (by name) and which of
  // them owns the most of each slice; fetched when the members change.
  void get_ring(const request&, response& res) {
    auto ring = ring_members();
    if (!ring)
      return reply_error(res, ring.error());
    rv::cluster::hash_ring placed{std::move(*ring)};
    reply_json(res, 200,
               json{{"members", placed.members()},
                    {"shares", placed.shares()},
                    {"slices", placed.sector_owners(ring_slices)}});
  }

  void metrics_text(const request&, response& res) {
    auto view = members();
    auto hdl = heroes();
    auto mine = hdl ? hdl->stats() : caf::expected<ring::ring_stats>{hdl.error()};
    if (!view || !mine)
      return reply_error(res, view ? mine.error() : view.error());
    res.set_content(meters.scrape(*view, *mine, rv::actor::wire_stats(sys()), front->counters()),
                    "text/plain; version=0.0.4");
  }

  // Every up member's health as its agent tells it; those that do not
  // answer are missing (their boards' errors say why).
  std::map<std::string, rv::cluster::node_health> health_by_node() {
    std::map<std::string, rv::cluster::node_health> result;
    auto replies = rv::cluster::multicall(
      sys(), opts.agent, rv::cluster::agent_directory_name,
      caf::make_message(caf::get_atom::value, rv::cluster::health_atom::value), opts.timeout);
    if (replies)
      for (auto& r : *replies)
        if (!r.error && r.reply.match_elements<rv::cluster::node_health>())
          result[r.node] = r.reply.get_as<rv::cluster::node_health>(0);
    return result;
  }

  // This node, its view, the ring and every hero, with each member's
  // dashboard, lease and link; members that did not answer are listed
  // under "errors".
  caf::expected<json> cluster_state() {
    auto view = members();
    if (!view)
      return std::move(view.error());
    auto status = blocking_request<rv::cluster::cluster_status>(
      sys(), opts.agent, opts.timeout, caf::get_atom::value, rv::cluster::status_atom::value);
    if (!status)
      return std::move(status.error());
    auto ring = ring_members();
    // The multicalls at once: a member that does not answer costs one timeout.
    auto asked = std::async(std::launch::async, [this] { return health_by_node(); });
    auto pinned = std::async(std::launch::async, [this] { return pinned_heroes(); });
    auto reports = rv::cluster::multicall(sys(), opts.agent, board_name,
                                          caf::make_message(caf::get_atom::value),
                                          opts.timeout);
    auto health = asked.get();
    auto pins = pinned.get();
    if (!reports)
      return std::move(reports.error());
    cluster_facts facts{node.identity().name,
                        opts.heroes,
                        std::move(*view),
                        *status,
                        ring ? std::move(*ring) : std::vector<std::string>{},
                        std::move(*reports),
                        std::move(health),
                        std::move(pins)};
    return state_json(facts);
  }

  // The heroes pinned to a node (moved there by an operator), by id; none
  // if the heroes' supervisor does not answer.
  std::map<std::string, std::string> pinned_heroes() {
    std::map<std::string, std::string> result;
    auto hdl = heroes();
    auto all =
      hdl ? hdl->which_children() : caf::expected<std::vector<ring::ring_child>>{hdl.error()};
    if (all)
      for (auto& c : *all)
        if (!c.pin.empty())
          result.emplace(c.id, c.pin);
    return result;
  }

  rv::actor::node& node;
  dashboard_options opts;
  metrics meters;
  http_routes server;
  std::unique_ptr<http_front> front; // last: stops before the routes go
};

caf::error dashboard::check_port(const std::string& host, uint16_t port) {
  if (port == 0)
    return caf::none;
  auto fd = open_listener(host, port);
  if (!fd)
    return std::move(fd.error());
  ::close(*fd);
  return caf::none;
}

caf::expected<std::unique_ptr<dashboard>> dashboard::start(rv::actor::node& node,
                                                           dashboard_options opts) {
  if (opts.token.empty())
    return rv::actor::make_error(rv::actor::errc::bad_config, "dispatch.token",
                                 "the dashboard needs a token for changes");
  auto ptr = std::make_unique<impl>(node, std::move(opts));
  ptr->routes();
  auto fd = open_listener(ptr->opts.host, ptr->opts.port);
  if (!fd)
    return std::move(fd.error());
  auto front = http_front::start(ptr->server, *fd);
  if (!front)
    return std::move(front.error());
  ptr->front = std::move(*front);
  return std::unique_ptr<dashboard>{new dashboard(std::move(ptr))};
}

dashboard::dashboard(std::unique_ptr<impl> ptr) : impl_(std::move(ptr)) {
  // nop
}

dashboard::~dashboard() = default;

uint16_t dashboard::port() const noexcept {
  return impl_->front->port();
}

} // namespace dispatch
