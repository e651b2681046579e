#include "account.hpp"

#include <chrono>
#include <mutex>
#include <random>

#include <caf/all.hpp>
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include "ringvisor/actor/stateful_child.hpp"
#include "ringvisor/ring/ownership.hpp"
#include "ringvisor/ring/supervisor.hpp"

namespace ringvisor::chaos {

namespace {

using tick_atom = caf::atom_constant<caf::atom("chaos_tick")>;

/// What moves: the count (see the stateful-child contract).
struct account_state {
  uint64_t count = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, account_state& x) {
  return f(caf::meta::type_name("account_state"), x.count);
}

/// What stays with one instance. Kept outside the actor's state, which
/// `put_state` replaces and which is gone when the exit functor runs.
struct instance_info {
  std::string child;
  std::string instance;
  uint64_t count = 0; // a copy of the state's, for the stop line
  bool placed = false;
  bool state_taken = false;
  ring::ownership owner; // from the placement

  // Whether the instance may act: its node holds the lease, and its state
  // was not taken for a move.
  bool may_act() const {
    return owner.still_owner() && !state_taken;
  }
};

std::string random_instance_id() {
  static std::mutex mtx;
  static std::mt19937_64 rng{std::random_device{}()};
  std::lock_guard<std::mutex> guard{mtx};
  return fmt::format("{:016x}", rng());
}

// `user_shutdown`, `kill`, ...: one word for the ledger.
std::string reason_word(const caf::error& reason) {
  if (!reason)
    return "normal";
  if (reason.category() == caf::atom("exit"))
    return to_string(static_cast<caf::exit_reason>(reason.code()));
  auto str = caf::to_string(reason);
  for (auto& c : str)
    if (c == ' ' || c == '\t')
      c = '_';
  return str;
}

using account_actor = caf::stateful_actor<account_state>;

caf::behavior account(account_actor* self, std::string id,
                      std::shared_ptr<ledger_writer> out, caf::timespan tick) {
  auto me = std::make_shared<instance_info>();
  me->child = std::move(id);
  me->instance = random_instance_id();
  self->attach_functor([me, out](const caf::error& reason) {
    auto why = me->state_taken ? std::string{"handoff"} : reason_word(reason);
    out->write(me->child, me->instance, fmt::format("stop {} {}", me->count, why));
  });
  caf::message_handler own{
    [self, me, out](inc_atom, uint64_t request) -> caf::result<uint64_t> {
      if (!me->may_act())
        return me->owner.refusal(me->child);
      me->count = ++self->state.count;
      out->write(me->child, me->instance, fmt::format("apply {} {}", request, me->count));
      return me->count;
    },
    [self](caf::get_atom) { return self->state.count; },
    [self, me, out, tick](ring::placed_atom, const ring::placement& where,
                          const ring::restore_info&) {
      me->count = self->state.count;
      me->owner = ring::ownership{self->system(), where};
      out->write(me->child, me->instance, fmt::format("start {} {}", me->count, where.epoch));
      if (!me->placed)
        self->delayed_send(self, tick, tick_atom::value);
      me->placed = true;
    },
    [self, me, out, tick](tick_atom) {
      self->delayed_send(self, tick, tick_atom::value);
      if (!me->may_act())
        return; // a successor may act by now: a tick here would be a second
      me->count = self->state.count;
      out->write(me->child, me->instance, fmt::format("tick {}", me->count));
    },
    // Read for a snapshot: the account goes on.
    [self, me, out](snap_atom) -> caf::result<actor::bytes> {
      auto buf = actor::to_bytes(self->system(), self->state);
      if (!buf)
        return std::move(buf.error());
      out->write(me->child, me->instance, fmt::format("snap {}", self->state.count));
      return std::move(*buf);
    },
    // Taken for a move: the ring supervisor stops this instance next.
    [self, me](actor::get_state_atom) -> caf::result<actor::bytes> {
      auto buf = actor::to_bytes(self->system(), self->state);
      if (!buf)
        return std::move(buf.error());
      me->state_taken = true;
      return std::move(*buf);
    },
  };
  return own.or_else(actor::state_handlers(self)); // put_state
}

} // namespace

caf::message account_state_request(const std::string&, const std::string&,
                                   const std::string& to) {
  if (to.empty())
    return caf::make_message(snap_atom::value);
  return caf::make_message(actor::get_state_atom::value);
}

int64_t monotonic_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
           std::chrono::steady_clock::now().time_since_epoch())
    .count();
}

std::shared_ptr<ledger_writer> ledger_writer::open(const std::string& dir,
                                                   const std::string& node) {
  auto path = fmt::format("{}/{}-{}.ledger", dir, node, ::getpid());
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0)
    return nullptr;
  return std::shared_ptr<ledger_writer>{new ledger_writer(fd, std::move(path), node)};
}

ledger_writer::ledger_writer(int fd, std::string path, std::string node)
  : fd_(fd), path_(std::move(path)), prefix_(fmt::format(" {} {} ", ::getpid(), node)) {
  // nop
}

ledger_writer::~ledger_writer() {
  ::close(fd_);
}

void ledger_writer::write(const std::string& child, const std::string& instance,
                          const std::string& event) {
  auto line = fmt::format("{}{}{} {} {}\n", monotonic_ns(), prefix_, child, instance, event);
  // One call per line: O_APPEND keeps lines of concurrent writers whole.
  auto n = ::write(fd_, line.data(), line.size());
  (void) n; // nothing better to do than to go on
}

caf::error add_account_type(actor::factory_registry& factories,
                            std::shared_ptr<ledger_writer> out, caf::timespan tick) {
  return factories.add<std::string>(
    "account", [out, tick](account_actor* self, std::string id) {
      return account(self, std::move(id), out, tick);
    });
}

} // namespace ringvisor::chaos
