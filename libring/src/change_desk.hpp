#pragma once

// Changes to the child list as clients ask for them (private to
// libring), as plain code behind the ring manager, which does the
// messaging (`change_io`): a start, restart, terminate or delete goes to the
// child's owner, one hop at a time while the rings of the nodes differ; the
// owner records it on a write quorum of the child's replicas
// (`record_keeper::replicate`) and, for a start, starts the child
// (`child_host::start`). Changes that cannot go on now wait (*parked*) until
// the next round: the owner or its handle is not known yet, the node does not
// serve, or the owner has not learned the records of its ranges.
//
// `Promise` is where an answer goes: `caf::response_promise` in the manager,
// a recorder in tests. It has `deliver(x)` for a placement, `caf::ok_atom` or
// `caf::error`.

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <caf/error.hpp>

#include "child_host.hpp"
#include "record_keeper.hpp"
#include "ringvisor/cluster/errc.hpp"
#include "ringvisor/ring/supervisor.hpp"
#include "ringvisor/supervision/errc.hpp"
#include "routing.hpp"
#include "supervision_names.hpp"

namespace ringvisor::ring {

/// A change to a known child: `pin` moves it to a member (or back to its
/// ring owner).
enum class change_kind : uint8_t { terminate, restart, erase, pin };

/// The ring manager's side of the change desk.
template <class Promise>
class change_io {
public:
  using time_point = std::chrono::steady_clock::time_point;

  virtual ~change_io() = default;

  /// Passes the start (`fresh`) or restart of `rec` to its `owner`, whose
  /// answer goes to `rp`. Returns false if the owner's handle is not known
  /// yet (the io asks for it).
  virtual bool pass_place(const std::string& owner, Promise& rp, const child_record& rec,
                          bool fresh)
    = 0;

  /// Passes a change (`to`: a pin's member) to `owner`, `hops` far already.
  /// Returns false if the owner's handle is not known yet (the io asks for
  /// it).
  virtual bool pass_change(const std::string& owner, Promise& rp, change_kind kind,
                           const std::string& id, const std::string& to, uint8_t hops) = 0;

  /// Deletes `spec` from its store, if any: `done` gets none or why not.
  virtual void unstore(const child_spec& spec, std::function<void(caf::error)> done) = 0;

  /// Whether the node serves (up, not leaving, not stopping).
  virtual bool serving() const = 0;

  /// Why the node refuses changes now (split off, or not up yet), or none.
  virtual caf::error refused(const std::string& id) const = 0;

  /// Runs a round soon.
  virtual void retry_later() = 0;

  /// Answers `rp` with the child's placement once it runs here.
  virtual void when_running(local_child& c, const std::string& id, Promise rp) = 0;

  virtual time_point now() = 0;
};

/// Limits of a change desk.
struct change_limits {
  /// How long a change may stay parked before it fails (its caller gave up
  /// by then: the promises would pile up).
  std::chrono::steady_clock::duration max_parked = std::chrono::seconds{60};
};

template <class Promise>
class change_desk {
public:
  using time_point = std::chrono::steady_clock::time_point;

  change_desk(std::string self, std::string sup, change_io<Promise>& io,
              record_keeper& records, child_host& host, change_limits limits = {})
    : self_(std::move(self)),
      sup_(std::move(sup)),
      io_(io),
      records_(records),
      host_(host),
      limits_(limits) {
    // nop
  }

  /// Has the owner of `rec` record it and start the child (a `fresh` start
  /// fails if the child exists).
  void place(child_record rec, bool fresh, Promise rp) {
    auto owner = records_.list().who_owns(rec.spec.id);
    if (owner && *owner == self_)
      return on_place(std::move(rec), fresh, std::move(rp));
    if (owner && io_.pass_place(*owner, rp, rec, fresh))
      return;
    park(std::move(rp), [this, rec = std::move(rec), fresh](Promise& again) {
      place(rec, fresh, std::move(again));
    });
  }

  /// The owner's part of `place`: records the child on a write quorum of its
  /// replicas, starts it, and answers once both happened (like `find`).
  void on_place(child_record rec, bool fresh, Promise rp) {
    auto id = rec.spec.id;
    if (!io_.serving() || !records_.synced()) {
      park(std::move(rp), [this, rec = std::move(rec), fresh](Promise& again) {
        on_place(rec, fresh, std::move(again));
      });
      return;
    }
    if (!records_.list().owned_by(id, self_))
      return place(std::move(rec), fresh, std::move(rp)); // the rings differ still
    if (fresh) {
      if (records_.list().alive(id) != nullptr)
        return rp.deliver(make_error(errc::already_present, sup_, id));
      rec.version = records_.next_version(); // above a tombstone this node keeps
    }
    records_.apply(rec);
    auto now = records_.list().alive(id);
    if (now == nullptr || now->terminated)
      return rp.deliver(make_error(errc::not_found, sup_, id,
                                   now == nullptr ? "deleted" : "terminated"));
    if (!host_.contains(id)) {
      local_child c;
      c.spec = now->spec;
      c.record = now->version;
      c.epoch = host_.next_epoch(0);
      host_.start(id, std::move(c));
      ++started_;
    }
    records_.replicate(rec, [this, id, rp](bool stored) mutable {
      if (!stored)
        return rp.deliver(no_quorum(id));
      auto c = host_.find(id);
      if (c == nullptr)
        return rp.deliver(make_error(errc::no_owner, sup_, id, "moved meanwhile"));
      io_.when_running(*c, id, std::move(rp));
    });
  }

  /// A client's terminate, restart, delete or pin (to the member `to`,
  /// empty: back to its ring owner) of `id`, passed on `hops` times already:
  /// the owner changes the record on a write quorum of its replicas; another
  /// member passes it on.
  void change(change_kind kind, const std::string& id, uint8_t hops, Promise rp,
              const std::string& to = {}) {
    if (auto err = io_.refused(id))
      return rp.deliver(std::move(err));
    auto retry = [this, kind, id, hops, to](Promise& again) {
      change(kind, id, hops, std::move(again), to);
    };
    auto owner = records_.list().who_owns(id);
    if (!owner || *owner != self_) {
      if (hops >= max_hops)
        return rp.deliver(make_error(errc::no_owner, sup_, id, "the rings differ"));
      if (owner && io_.pass_change(*owner, rp, kind, id, to, hops))
        return;
      return park(std::move(rp), retry);
    }
    if (!io_.serving() || !records_.synced())
      return park(std::move(rp), retry);
    auto rec = records_.list().alive(id);
    if (rec == nullptr)
      return rp.deliver(make_error(errc::not_found, sup_, id));
    switch (kind) {
      case change_kind::restart:
        return on_place(records_.changed(*rec, false, false), false, std::move(rp));
      case change_kind::terminate:
        return write(records_.changed(*rec, true, false), std::move(rp));
      case change_kind::erase:
        io_.unstore(rec->spec, [this, rp, id](caf::error err) mutable {
          if (err)
            return rp.deliver(std::move(err));
          auto now = records_.list().alive(id);
          if (now == nullptr)
            return rp.deliver(caf::ok_atom::value); // deleted meanwhile
          write(records_.changed(*now, false, true), std::move(rp));
        });
        return;
      case change_kind::pin:
        if (rec->pin == to)
          return rp.deliver(caf::ok_atom::value);
        if (!to.empty() && !records_.list().ring().contains(to))
          return rp.deliver(make_error(cluster::errc::not_member, sup_, id,
                                       "no member of its ring is called " + to));
        // Applied here first: the child leaves in the next round, after the
        // write went out, so that the new owner knows the pin when the
        // handoff comes.
        return write(records_.repinned(*rec, to), std::move(rp));
    }
  }

  /// Tries the parked changes again; those parked too long fail.
  void retry_parked() {
    auto xs = std::move(parked_);
    parked_.clear();
    auto too_old = io_.now() - limits_.max_parked;
    for (auto& x : xs) {
      if (x.since < too_old) {
        x.rp.deliver(make_error(errc::no_owner, sup_, "not placed in time"));
        continue;
      }
      auto n = parked_.size();
      x.retry(x.rp);
      if (parked_.size() > n)
        parked_.back().since = x.since; // parked again: it keeps its age
    }
  }

  /// Fails every parked change.
  void fail_all(const caf::error& err) {
    for (auto& x : parked_)
      x.rp.deliver(err);
    parked_.clear();
  }

  /// Changes waiting for the next round.
  size_t parked() const noexcept {
    return parked_.size();
  }

  /// Children started here by `place`.
  uint64_t started() const noexcept {
    return started_;
  }

private:
  struct parked_change {
    Promise rp;
    std::function<void(Promise&)> retry;
    time_point since;
  };

  // Holds `retry` until the next round, or until this node learned the
  // records of its ranges (a round is on its way then, and a retry timer
  // would only start rounds anew).
  void park(Promise rp, std::function<void(Promise&)> retry) {
    parked_.push_back(parked_change{std::move(rp), std::move(retry), io_.now()});
    if (!io_.serving() || records_.synced())
      io_.retry_later();
  }

  // Applies `rec` here and answers ok once a write quorum stored it.
  void write(child_record rec, Promise rp) {
    records_.apply(rec);
    auto id = rec.spec.id;
    records_.replicate(rec, [this, id, rp](bool stored) mutable {
      if (stored)
        rp.deliver(caf::ok_atom::value);
      else
        rp.deliver(no_quorum(id));
    });
  }

  // The error of a write that fewer than a quorum of replicas stored.
  caf::error no_quorum(const std::string& id) const {
    return make_error(errc::store_failed, sup_, id,
                      "fewer than a majority of its replicas stored the change; retry");
  }

  std::string self_;
  std::string sup_;
  change_io<Promise>& io_;
  record_keeper& records_;
  child_host& host_;
  change_limits limits_;
  std::vector<parked_change> parked_;
  uint64_t started_ = 0;
};

} // namespace ringvisor::ring
