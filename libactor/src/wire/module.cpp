#include "wire/module.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include <caf/all.hpp>
#include <openssl/rand.h>

#include "ringvisor/actor/errc.hpp"
#include "ringvisor/actor/log.hpp"
#include "ringvisor/actor/wire.hpp"
#include "module_factory.hpp"
#include "wire/proxy.hpp"
#include "wire/secret.hpp"
#include "wire/tcp_transport.hpp"

namespace wire = ringvisor::actor::wire;

namespace caf::net {

namespace {

using dial_done_atom = caf::atom_constant<caf::atom("rv_dialed")>;

struct connector_state {
  uint64_t next = 1;
  std::map<uint64_t, caf::response_promise> pending;
  static inline const char* name = "ringvisor.wire.connector";
};

// Connects to other nodes for actors that ask it, without blocking anyone:
// the dial runs on the I/O thread and reports back here.
caf::behavior connector_actor(caf::stateful_actor<connector_state>* self, middleman* mm) {
  return {
    [self, mm](caf::connect_atom, const std::string& host,
               uint16_t port) -> caf::result<caf::node_id, caf::strong_actor_ptr,
                                             std::set<std::string>> {
      if (mm->directory() && host + ":" + std::to_string(port) == mm->engine().self().endpoint)
        return {mm->directory().node(), caf::actor_cast<caf::strong_actor_ptr>(mm->directory()),
                std::set<std::string>{}}; // ourselves, as BASP does
      auto rp = self->make_response_promise();
      auto cookie = self->state.next++;
      self->state.pending.emplace(cookie, rp);
      caf::actor me = caf::actor_cast<caf::actor>(self);
      auto timeout = mm->config().engine.handshake_timeout;
      mm->engine().dial(host, port, timeout, [me, cookie, mm](caf::expected<wire::link_ptr> x) {
        if (!x)
          return caf::anon_send(me, dial_done_atom::value, cookie, caf::actor{}, x.error());
        auto dir = mm->hub().directory_of(*x);
        caf::anon_send(me, dial_done_atom::value, cookie, dir, caf::error{});
      });
      return rp;
    },
    [self](dial_done_atom, uint64_t cookie, const caf::actor& dir, const caf::error& err) {
      auto i = self->state.pending.find(cookie);
      if (i == self->state.pending.end())
        return;
      auto rp = i->second;
      self->state.pending.erase(i);
      if (err)
        rp.deliver(err);
      else
        rp.deliver(dir.node(), caf::actor_cast<caf::strong_actor_ptr>(dir),
                   std::set<std::string>{});
    },
  };
}

} // namespace

middleman::middleman(caf::actor_system& sys, wire::module_config cfg)
  : sys_(sys), cfg_(std::move(cfg)) {
  // nop
}

middleman::~middleman() = default;

void middleman::init(caf::actor_system_config&) {
  // A node id per process and system, random: containers may share MAC
  // addresses, host ids and pids.
  caf::node_id::default_data::host_id_type host_id;
  if (RAND_bytes(host_id.data(), static_cast<int>(host_id.size())) != 1)
    std::abort();
  auto id = caf::make_node_id(static_cast<uint32_t>(::getpid()), host_id);
  sys_.node_.swap(id);
}

void middleman::start() {
  transport_ = std::make_unique<wire::tcp_transport>(cfg_.host, cfg_.tls);
  hub_ = std::make_shared<wire::hub>(sys_);
  wire::hello_info self{hub_->self_key(), cfg_.name, "", ""};
  engine_ = std::make_unique<wire::engine>(*transport_, cfg_.engine, self, *hub_);
  hub_->attach(*engine_);
  if (cfg_.insecure)
    hub_->warn_insecure = true;
  transport_->start(*engine_, std::min<caf::timespan>(cfg_.engine.heartbeat_interval / 4,
                                                      std::chrono::milliseconds{50}));
  connector_ = sys_.spawn<caf::hidden + caf::lazy_init>(connector_actor, this);
  hub_->helper = sys_.spawn<caf::hidden + caf::lazy_init>([]() -> caf::behavior {
    return {
      [](uint8_t type, const caf::strong_actor_ptr& proxy, const caf::strong_actor_ptr& linker) {
        static_cast<wire::proxy*>(proxy->get())->send_link(static_cast<wire::frame_type>(type),
                                                           linker);
      },
      [](wire::forward_exit_atom, const caf::strong_actor_ptr& proxy, caf::strong_actor_ptr& sender,
         uint64_t mid, caf::message& content) {
        static_cast<wire::proxy*>(proxy->get())->forward_exit(std::move(sender),
                                                              caf::message_id{mid},
                                                              std::move(content));
      },
    };
  });
}

void middleman::stop() {
  // The handles stay: actors may still use them while the system stops.
  caf::anon_send_exit(connector_, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(hub_->helper, caf::exit_reason::user_shutdown);
  engine_->shutdown();
  transport_->stop();
  hub_->stop();
}

} // namespace caf::net

namespace ringvisor::actor {

void add_wire_options(caf::config_option_set& set, wire_options& x) {
  caf::config_option_adder{set, "ringvisor"}
    .add(x.cluster_name, "cluster-name", "nodes of other clusters are refused")
    .add(x.secret_file, "secret-file",
         "file with the cluster secret (mode 0600), else $RINGVISOR_SECRET")
    .add(x.insecure, "insecure", "run without a secret: anyone who reaches the port gets in")
    .add(x.max_frame, "max-frame", "longest frame in bytes; longer ones close the link");
  caf::config_option_adder{set, "ringvisor.wire"}
    .add(x.heartbeat_interval, "heartbeat-interval", "how often an idle link speaks")
    .add(x.connection_timeout, "connection-timeout", "a link silent for this long drops")
    .add(x.handshake_timeout, "handshake-timeout", "time to prove the secret")
    .add(x.max_unauthenticated, "max-unauthenticated", "connections in their handshake")
    .add(x.max_unauthenticated_per_host, "max-unauthenticated-per-host",
         "connections in their handshake, per source address")
    .add(x.max_peers, "max-peers", "authenticated connections")
    .add(x.max_queue, "max-queue", "unsent bytes per peer");
  caf::config_option_adder{set, "ringvisor.tls"}
    .add(x.tls_ca_file, "ca-file", "PEM CA certificate(s) that sign members' certificates")
    .add(x.tls_cert_file, "cert-file",
         "PEM certificate naming this process (subjectAltName DNS:<name>); enables TLS")
    .add(x.tls_key_file, "key-file", "PEM private key of cert-file (mode 0600)")
    .add(x.tls_key_password_file, "key-password-file",
         "file with the key's passphrase, if it is encrypted (mode 0600)");
}

namespace {

// Returns the secret of `x` (file first, then the environment).
caf::expected<std::string> secret_of(const wire_options& x) {
  if (!x.secret_file.empty())
    return wire::read_secret_file(x.secret_file);
  auto env = wire::secret_from_env();
  if (!env)
    return env.error();
  if (env->empty() && !x.insecure)
    return make_error(errc::bad_config, "no cluster secret",
                      "set ringvisor.secret-file (a file of 16 or more random bytes, mode "
                      "0600) or RINGVISOR_SECRET, or run with --ringvisor.insecure");
  return env;
}

// Checks the limits and timers of `x` (everything but the secret).
caf::error check_limits(const wire_options& x) {
  auto bad = [](const std::string& key, const std::string& what) {
    return make_error(errc::bad_config, "ringvisor." + key + ": " + what);
  };
  if (x.cluster_name.empty())
    return bad("cluster-name", "must not be empty");
  if (x.max_frame < 64 * 1024 || x.max_frame > (1u << 30))
    return bad("max-frame", "must be between 64 KiB and 1 GiB");
  if (x.heartbeat_interval.count() <= 0 || x.connection_timeout <= x.heartbeat_interval)
    return bad("wire.connection-timeout", "must be longer than ringvisor.wire.heartbeat-interval");
  if (x.handshake_timeout.count() <= 0)
    return bad("wire.handshake-timeout", "must be positive");
  if (x.max_unauthenticated == 0 || x.max_unauthenticated_per_host == 0 || x.max_peers == 0)
    return bad("wire.max-*", "limits must be at least 1");
  if (x.max_queue < x.max_frame)
    return bad("wire.max-queue", "must hold at least one frame (ringvisor.max-frame)");
  return caf::none;
}

// Returns the TLS context of `x` for a process named `name`: null without
// TLS, an error if its files are incomplete or wrong.
caf::expected<std::shared_ptr<const wire::tls_context>> tls_of(const wire_options& x,
                                                                const std::string& name) {
  if (x.tls_ca_file.empty() && x.tls_cert_file.empty() && x.tls_key_file.empty()
      && x.tls_key_password_file.empty())
    return nullptr;
  if (x.tls_ca_file.empty() || x.tls_cert_file.empty() || x.tls_key_file.empty())
    return make_error(errc::bad_config, "ringvisor.tls: incomplete",
                      "TLS needs ca-file, cert-file and key-file together");
  return wire::tls_context::make({x.tls_ca_file, x.tls_cert_file, x.tls_key_file,
                                  x.tls_key_password_file},
                                 name);
}

} // namespace

caf::error validate(const wire_options& x, const std::string& name) {
  if (auto err = check_limits(x))
    return err;
  if (auto s = secret_of(x); !s)
    return s.error();
  if (auto t = tls_of(x, name); !t)
    return t.error();
  return caf::none;
}

caf::error use_wire(caf::actor_system_config& cfg, const wire_options& x,
                    const std::string& name, const std::string& host) {
  if (auto err = check_limits(x))
    return err;
  auto secret = secret_of(x);
  if (!secret)
    return std::move(secret.error());
  auto tls = tls_of(x, name);
  if (!tls)
    return std::move(tls.error());
  wire::module_config mc;
  mc.tls = std::move(*tls);
  mc.engine.key = wire::derive_key(*secret, x.cluster_name);
  mc.engine.max_frame = static_cast<uint32_t>(x.max_frame);
  mc.engine.handshake_timeout = x.handshake_timeout;
  mc.engine.heartbeat_interval = x.heartbeat_interval;
  mc.engine.connection_timeout = x.connection_timeout;
  mc.engine.max_unauthenticated = x.max_unauthenticated;
  mc.engine.max_unauthenticated_per_host = x.max_unauthenticated_per_host;
  mc.engine.max_peers = x.max_peers;
  mc.engine.max_queue = x.max_queue;
  mc.name = name;
  mc.host = host;
  mc.insecure = secret->empty();
  if (mc.tls)
    log::info("wire_tls", {{"cert", x.tls_cert_file}, {"ca", x.tls_ca_file}});
  if (mc.insecure)
    log::warn("wire_insecure", {{"hint", "no cluster secret: anyone who reaches the port "
                                         "can join, stop or call this node"}});
  auto factory = [mc](caf::actor_system& sys) -> caf::actor_system::module* {
    return new caf::net::middleman(sys, mc);
  };
  put_module_factory(cfg, factory);
  return caf::none;
}

void ensure_secret_env() {
  if (auto env = std::getenv(wire::secret_env); env != nullptr && *env != '\0')
    return;
  uint8_t bytes[24];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1)
    std::abort();
  static constexpr char hex[] = "0123456789abcdef";
  std::string secret;
  for (auto b : bytes) {
    secret += hex[b >> 4];
    secret += hex[b & 15];
  }
  ::setenv(wire::secret_env, secret.c_str(), 0);
}

wire_counters wire_stats(caf::actor_system& sys) {
  wire_counters x;
  if (!uses_wire(sys))
    return x;
  auto& mm = sys.network_manager();
  auto& st = mm.engine().stats();
  x.links_accepted = st.links_accepted;
  x.peers_up = st.peers_up;
  x.peers_down = st.peers_down;
  x.handshake_failures = st.handshake_failures;
  x.handshake_timeouts = st.handshake_timeouts;
  x.unauthenticated_refused = st.unauthenticated_refused;
  x.protocol_errors = st.protocol_errors;
  x.oversize_frames = st.oversize_frames;
  x.silent_closes = st.silent_closes;
  x.duplicates_refused = st.duplicates_refused;
  x.queue_full = st.queue_full;
  x.bytes_in = st.bytes_in;
  x.bytes_out = st.bytes_out;
  // The module's transport is always TCP (a simulator has no module).
  auto& tcp = static_cast<wire::tcp_transport&>(mm.transport());
  x.refused_for_descriptors = tcp.refused_for_descriptors();
  x.tls_failures = tcp.tls_failures();
  x.requests_failed = mm.hub().requests_failed;
  x.undecodable = mm.hub().undecodable;
  x.peers = mm.engine().peer_count();
  x.unauthenticated = mm.engine().unauthenticated_count();
  return x;
}

bool uses_wire(caf::actor_system& sys) {
  return sys.has_network_manager();
}

caf::expected<uint16_t> wire_listen(caf::actor_system& sys, const std::string& host,
                                    uint16_t port, const caf::actor& directory) {
  auto& mm = sys.network_manager();
  // Peers get the directory by its id: pin it in the registry.
  sys.registry().put(directory.id(), caf::actor_cast<caf::strong_actor_ptr>(directory));
  auto result = mm.transport().listen(host, port);
  if (!result)
    return result;
  auto self = mm.engine().self();
  self.endpoint = host + ":" + std::to_string(*result);
  self.extra = std::to_string(directory.id());
  mm.engine().set_self(std::move(self));
  mm.directory(directory);
  return result;
}

caf::actor connector(caf::actor_system& sys) {
  if (uses_wire(sys))
    return sys.network_manager().connector();
  return {};
}

} // namespace ringvisor::actor
