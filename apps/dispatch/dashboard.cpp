#include "dashboard.hpp"

#include <algorithm>
#include <chrono>
#include <string_view>
#include <thread>

#include <caf/all.hpp>
#include <httplib.h>
#include <nlohmann/json.hpp>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include "hero.hpp"
#include "ringvisor/actor/directory.hpp"
#include "ringvisor/actor/errc.hpp"
#include "ringvisor/actor/log.hpp"
#include "ringvisor/cluster/agent.hpp"
#include "ringvisor/cluster/calls.hpp"
#include "ringvisor/supervision/errc.hpp"
#include "ringvisor/supervision/ring_supervisor.hpp"

namespace dispatch {

extern const std::string_view index_html; // web_assets.cpp, generated from web/index.html

namespace {

namespace rv = ringvisor;
using json = nlohmann::json;
namespace sup = rv::supervision;

constexpr size_t max_name_length = 64;

// -- HTTP helpers -----------------------------------------------------------------

void reply_json(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

void reply_error(httplib::Response& res, int status, const std::string& what) {
  reply_json(res, status, json{{"error", what}});
}

// Maps an error from the cluster to a status a client can act on.
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
        return 503;
      default:
        return 500;
    }
  }
  if (err == caf::sec::request_timeout)
    return 504;
  return 500;
}

void reply_error(httplib::Response& res, const caf::error& err) {
  reply_error(res, status_of(err), rv::actor::render(err));
}

// Compares without an early exit, so that response times do not tell how
// much of a guessed token was right.
bool same_token(std::string_view x, std::string_view y) {
  unsigned char diff = x.size() == y.size() ? 0 : 1;
  for (size_t i = 0; i < std::min(x.size(), y.size()); ++i)
    diff |= static_cast<unsigned char>(x[i] ^ y[i]);
  return diff == 0;
}

template <class T, class... Ts>
caf::expected<T> ask(caf::actor_system& sys, const caf::actor& dest, caf::timespan timeout,
                     Ts&&... xs) {
  caf::expected<T> result{caf::sec::request_timeout};
  caf::scoped_actor self{sys};
  self->request(dest, timeout, std::forward<Ts>(xs)...)
    .receive([&](T& x) { result = std::move(x); },
             [&](caf::error& err) { result = std::move(err); });
  return result;
}

} // namespace

// -- metrics ------------------------------------------------------------------------

// Gauges and counters read from the cluster at every scrape; counters that
// the ring supervisor counts are advanced by what changed since the last one.
struct metrics {
  explicit metrics(const std::string& node)
    : registry(std::make_shared<prometheus::Registry>()),
      members(prometheus::BuildGauge()
                .Name("ringvisor_cluster_members")
                .Help("Members in this node's view, by status")
                .Labels({{"node", node}})
                .Register(*registry)),
      children(prometheus::BuildGauge()
                 .Name("ringvisor_ring_children")
                 .Help("Children of the ring supervisor running on this node")
                 .Labels({{"node", node}, {"sup", "heroes"}})
                 .Register(*registry)
                 .Add({})),
      events(prometheus::BuildCounter()
               .Name("ringvisor_ring_child_events_total")
               .Help("Children of the ring supervisor by how they came to run on or "
                     "left this node: started, recovered (a failover: nobody ran "
                     "them), restarted, migrated_in, migrated_out")
               .Labels({{"node", node}, {"sup", "heroes"}})
               .Register(*registry)),
      latency(prometheus::BuildHistogram()
                .Name("ringvisor_http_request_duration_seconds")
                .Help("Time to answer dashboard and API requests, by route")
                .Labels({{"node", node}})
                .Register(*registry)) {
    // nop
  }

  void advance(const std::string& event, uint64_t now) {
    auto& c = events.Add({{"event", event}});
    if (auto before = static_cast<uint64_t>(c.Value()); now > before)
      c.Increment(static_cast<double>(now - before));
  }

  void update(const std::vector<rv::cluster::member>& view, const sup::ring_stats& stats) {
    for (auto s : {rv::cluster::member_status::joining, rv::cluster::member_status::up,
                   rv::cluster::member_status::leaving, rv::cluster::member_status::down,
                   rv::cluster::member_status::removed}) {
      auto n = std::count_if(view.begin(), view.end(),
                             [s](auto& m) { return m.status == s; });
      members.Add({{"status", to_string(s)}}).Set(static_cast<double>(n));
    }
    children.Set(static_cast<double>(stats.running));
    advance("started", stats.started);
    advance("recovered", stats.recovered);
    advance("restarted", stats.restarts);
    advance("migrated_in", stats.moved_in);
    advance("migrated_out", stats.moved_out);
  }

  prometheus::Histogram& route(const std::string& name) {
    static const prometheus::Histogram::BucketBoundaries buckets{
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 3};
    return latency.Add({{"route", name}}, buckets);
  }

  std::shared_ptr<prometheus::Registry> registry;
  prometheus::Family<prometheus::Gauge>& members;
  prometheus::Gauge& children;
  prometheus::Family<prometheus::Counter>& events;
  prometheus::Family<prometheus::Histogram>& latency;
};

// -- the server ---------------------------------------------------------------------

struct dashboard::impl {
  impl(rv::actor::node& n, dashboard_options o)
    : node(n), opts(std::move(o)), stats(n.identity().name) {
    // nop
  }

  caf::actor_system& sys() {
    return node.system();
  }

  const std::string& self_name() const {
    return node.identity().name;
  }

  caf::expected<std::vector<rv::cluster::member>> members() {
    return ask<std::vector<rv::cluster::member>>(sys(), opts.agent, opts.timeout,
                                                 caf::get_atom::value,
                                                 rv::cluster::members_atom::value);
  }

  caf::expected<caf::actor> heroes() {
    return ask<caf::actor>(sys(), node.directory(), opts.timeout, caf::get_atom::value,
                           opts.heroes);
  }

  // -- routes

  void routes() {
    serve("GET", "/", "/", &impl::page);
    serve("GET", "/api/state", "/api/state", &impl::get_state);
    serve("POST", "/api/heroes", "/api/heroes", &impl::create_hero, needs_token);
    serve("DELETE", R"(/api/heroes/([a-z0-9-]+))", "/api/heroes/:id", &impl::retire_hero,
          needs_token);
    serve("POST", R"(/api/nodes/([^/]+)/stop)", "/api/nodes/:name/stop", &impl::stop_node,
          needs_token);
    serve("GET", "/metrics", "/metrics", &impl::metrics_text);
    server.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "internal error";
        try {
          std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        reply_error(res, 500, what);
      });
  }

  using handler = void (impl::*)(const httplib::Request&, httplib::Response&);
  static constexpr bool needs_token = true;

  // Adds a route, timed under `route`; with `token`, only for requests that
  // carry the token.
  void serve(const std::string& method, const std::string& pattern, const std::string& route,
             handler fn, bool token = false) {
    auto& h = stats.route(method + " " + route);
    auto timed = [this, &h, fn, token](const httplib::Request& req, httplib::Response& res) {
      auto t0 = std::chrono::steady_clock::now();
      if (!token || authorized(req, res))
        (this->*fn)(req, res);
      h.Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    };
    if (method == "GET")
      server.Get(pattern, timed);
    else if (method == "POST")
      server.Post(pattern, timed);
    else
      server.Delete(pattern, timed);
  }

  bool authorized(const httplib::Request& req, httplib::Response& res) {
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

  // -- handlers

  void page(const httplib::Request&, httplib::Response& res) {
    res.set_content(index_html.data(), index_html.size(), "text/html; charset=utf-8");
  }

  void get_state(const httplib::Request&, httplib::Response& res) {
    auto state = cluster_state();
    if (!state)
      return reply_error(res, state.error());
    reply_json(res, 200, *state);
  }

  void retire_hero(const httplib::Request& req, httplib::Response& res) {
    auto id = req.matches[1].str();
    auto hdl = heroes();
    if (!hdl)
      return reply_error(res, hdl.error());
    if (auto err = sup::ring::delete_child(sys(), *hdl, id, opts.timeout))
      return reply_error(res, err);
    reply_json(res, 200, json{{"deleted", id}});
  }

  void metrics_text(const httplib::Request&, httplib::Response& res) {
    auto view = members();
    auto hdl = heroes();
    auto mine = hdl ? sup::ring::stats(sys(), *hdl, opts.timeout)
                    : caf::expected<sup::ring_stats>{hdl.error()};
    if (!view || !mine)
      return reply_error(res, view ? mine.error() : view.error());
    stats.update(*view, *mine);
    prometheus::TextSerializer text;
    res.set_content(text.Serialize(stats.registry->Collect()), "text/plain; version=0.0.4");
  }

  void create_hero(const httplib::Request& req, httplib::Response& res) {
    auto body = json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object() || !body.contains("name")
        || !body["name"].is_string())
      return reply_error(res, 400, R"(expected a JSON object like {"name": "Storm"})");
    auto name = body["name"].get<std::string>();
    auto id = hero_id(name);
    if (id.empty() || name.size() > max_name_length)
      return reply_error(res, 400,
                         "a hero's name needs a letter or digit and at most "
                           + std::to_string(max_name_length) + " characters");
    sup::child_spec spec;
    spec.id = id;
    spec.type = "hero";
    spec.args = caf::make_message(id, name);
    spec.restart = sup::restart_type::transient;
    auto hdl = heroes();
    if (!hdl)
      return reply_error(res, hdl.error());
    auto where = sup::ring::start_child(sys(), *hdl, std::move(spec), opts.timeout);
    if (!where)
      return reply_error(res, where.error());
    rv::log::info("hero_created", {{"id", id}, {"node", where->node}});
    reply_json(res, 201, json{{"id", id}, {"node", where->node}, {"epoch", where->epoch}});
  }

  void stop_node(const httplib::Request& req, httplib::Response& res) {
    auto name = req.matches[1].str();
    auto view = members();
    if (!view)
      return reply_error(res, view.error());
    auto m = std::find_if(view->begin(), view->end(), [&](auto& x) {
      return x.name == name && x.status == rv::cluster::member_status::up;
    });
    if (m == view->end())
      return reply_error(res, 404, "no up member named '" + name + "'");
    auto dir = rv::actor::remote_directory(sys(), m->endpoint, opts.timeout);
    if (!dir)
      return reply_error(res, dir.error());
    auto ok = ask<caf::ok_atom>(sys(), *dir, opts.timeout, rv::actor::stop_atom::value);
    if (!ok)
      return reply_error(res, ok.error());
    rv::log::info("node_stop_requested", {{"node", name}});
    reply_json(res, 202, json{{"stopping", name}});
  }

  // This node, its view, the ring and every hero, with each member's
  // dashboard; members that did not answer are listed under "errors".
  caf::expected<json> cluster_state() {
    auto view = members();
    if (!view)
      return std::move(view.error());
    auto status = ask<rv::cluster::cluster_status>(
      sys(), opts.agent, opts.timeout, caf::get_atom::value, rv::cluster::status_atom::value);
    if (!status)
      return std::move(status.error());
    auto ring = ask<std::vector<std::string>>(sys(), opts.agent, opts.timeout,
                                              caf::get_atom::value,
                                              rv::cluster::ring_atom::value, std::string{});
    auto reports = rv::cluster::multicall(sys(), opts.agent, board_name,
                                          caf::make_message(caf::get_atom::value),
                                          opts.timeout);
    if (!reports)
      return std::move(reports.error());
    std::vector<const hero_view*> heroes;
    json errors = json::array();
    std::map<std::string, std::string> dashboards;
    std::map<std::string, size_t> counts;
    for (auto& r : *reports) {
      if (r.error || !r.reply.match_elements<board_report>()) {
        errors.push_back({{"node", r.node},
                          {"error", r.error ? rv::actor::render(r.error) : "bad reply"}});
        continue;
      }
      auto& report = r.reply.get_as<board_report>(0);
      dashboards[r.node] = report.dashboard;
      counts[r.node] = report.heroes.size();
      for (auto& h : report.heroes)
        heroes.push_back(&h);
    }
    std::sort(heroes.begin(), heroes.end(),
              [](auto x, auto y) { return x->state.name < y->state.name; });
    json listed = json::array();
    for (auto h : heroes)
      listed.push_back(to_json(*h));
    json members = json::array();
    for (auto& m : *view)
      members.push_back({{"name", m.name},
                         {"endpoint", m.endpoint},
                         {"status", to_string(m.status)},
                         {"incarnation", m.incarnation},
                         {"dashboard", dashboards[m.name]},
                         {"heroes", counts[m.name]}});
    return json{{"node", self_name()},
                {"status", to_string(*status)},
                {"members", members},
                {"ring", ring ? json(*ring) : json::array()},
                {"heroes", std::move(listed)},
                {"errors", errors}};
  }

  rv::actor::node& node;
  dashboard_options opts;
  metrics stats;
  httplib::Server server;
  std::thread thread;
  uint16_t port = 0;
};

caf::expected<std::unique_ptr<dashboard>> dashboard::start(rv::actor::node& node,
                                                           dashboard_options opts) {
  auto ptr = std::make_unique<impl>(node, std::move(opts));
  ptr->routes();
  auto& o = ptr->opts;
  int port = o.port == 0 ? ptr->server.bind_to_any_port(o.host)
                         : (ptr->server.bind_to_port(o.host, o.port) ? o.port : -1);
  if (port <= 0)
    return rv::actor::make_error(rv::actor::errc::bad_config,
                                 "dashboard cannot listen on " + o.host + ":"
                                   + std::to_string(o.port),
                                 "is the port taken? set dispatch.http-port");
  ptr->port = static_cast<uint16_t>(port);
  ptr->thread = std::thread{[p = ptr.get()] { p->server.listen_after_bind(); }};
  return std::unique_ptr<dashboard>{new dashboard(std::move(ptr))};
}

dashboard::dashboard(std::unique_ptr<impl> ptr) : impl_(std::move(ptr)) {
  // nop
}

dashboard::~dashboard() {
  impl_->server.stop();
  if (impl_->thread.joinable())
    impl_->thread.join();
}

uint16_t dashboard::port() const noexcept {
  return impl_->port;
}

} // namespace dispatch
