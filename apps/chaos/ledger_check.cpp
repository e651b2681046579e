// The checks of a chaos run; docs/chaos.md says what each one means.

#include "ledger_check.hpp"

#include <algorithm>
#include <limits>
#include <sstream>
#include <utility>

namespace ringvisor::chaos {

namespace {

/// One start of a child on a node, from its ledger lines.
struct instance {
  uint32_t key = 0; // the interned instance id
  std::string id;
  std::string node;
  int64_t pid = 0;
  bool started = false;
  int64_t start_ns = 0;
  uint64_t start_count = 0;
  bool acted = false;
  int64_t first_act = 0;
  int64_t last_act = 0;
  bool stopped = false;
  int64_t stop_ns = 0;
  std::string reason;
  uint64_t last_count = 0; // of its latest line
  std::vector<uint64_t> snaps; // counts it gave for snapshots
  int64_t first_ns = 0;

  int64_t order() const {
    return started ? start_ns : first_ns;
  }

  /// Stopped in order: its state was taken for a move, or asked to stop.
  bool planned_stop() const {
    return stopped && (reason == "handoff" || reason == "user_shutdown");
  }

  std::string name() const {
    std::ostringstream out;
    out << id << " on " << node << " (pid " << pid << ")";
    return out.str();
  }
};

void act(instance& x, int64_t ns) {
  if (!x.acted)
    x.first_act = ns;
  x.acted = true;
  x.last_act = ns;
}

// The instances of one child, in start order. `lines` is in time order.
std::vector<instance> instances_of(const ledger& l, const std::string& child,
                                   const std::vector<child_event>& lines,
                                   std::vector<violation>& out) {
  std::vector<instance> result;
  std::map<uint32_t, size_t> index;
  for (auto& e : lines) {
    auto [i, added] = index.emplace(e.instance, result.size());
    if (added) {
      auto& x = result.emplace_back();
      x.key = e.instance;
      x.id = l.name(e.instance);
      x.node = l.name(e.node);
      x.pid = e.pid;
      x.first_ns = e.ns;
    }
    auto& x = result[i->second];
    if (x.stopped)
      out.push_back({check_kind::ledger, child, e.ns, "line after the stop: " + l.text(child, e)});
    switch (e.kind) {
      case event_kind::start:
        if (x.started)
          out.push_back({check_kind::ledger, child, e.ns, "second start: " + l.text(child, e)});
        x.started = true;
        x.start_ns = e.ns;
        x.start_count = e.a;
        act(x, e.ns);
        break;
      case event_kind::tick:
      case event_kind::apply:
        act(x, e.ns);
        break;
      case event_kind::stop:
        x.stopped = true;
        x.stop_ns = e.ns;
        x.reason = l.name(static_cast<uint32_t>(e.b));
        break;
      case event_kind::snap: // read by its ring supervisor: no act
        x.snaps.push_back(e.a);
        break;
    }
    x.last_count = e.count();
  }
  std::stable_sort(result.begin(), result.end(),
                   [](auto& x, auto& y) { return x.order() < y.order(); });
  return result;
}

// (b): the intervals [first act, last act] of the instances do not overlap.
void check_overlaps(const std::string& child, const std::vector<child_event>& lines,
                    const std::vector<instance>& xs, const run_facts& facts,
                    check_result& out) {
  std::vector<const instance*> acting;
  for (auto& x : xs)
    if (x.acted)
      acting.push_back(&x);
  std::sort(acting.begin(), acting.end(),
            [](auto* x, auto* y) { return x->first_act < y->first_act; });
  const instance* latest = nullptr; // the one acting last so far
  for (auto* x : acting) {
    if (latest != nullptr && x->first_act <= latest->last_act) {
      // The earlier one's acts from the later one's first on.
      size_t late = 0;
      int64_t late_from = 0;
      for (auto& e : lines)
        if (e.instance == latest->key && e.ns >= x->first_act && e.kind != event_kind::stop
            && late++ == 0)
          late_from = e.ns;
      auto paused = std::find_if(facts.pauses.begin(), facts.pauses.end(), [&](auto& p) {
        return p.pid == latest->pid && p.from_ns <= x->first_act && x->first_act <= p.to_ns
               && p.to_ns <= late_from;
      });
      std::ostringstream what;
      what << "instance " << latest->name() << " acted " << late << " times from "
           << late_from << " to " << latest->last_act << ", after " << x->name()
           << " started acting at " << x->first_act;
      if (paused != facts.pauses.end())
        what << "; its process was suspended from " << paused->from_ns << " to "
             << paused->to_ns << " (the paused-node limit)";
      violation v{check_kind::overlap, child, late > 0 ? late_from : x->first_act, what.str()};
      v.paused_node = paused != facts.pauses.end();
      out.violations.push_back(std::move(v));
    }
    if (latest == nullptr || x->last_act > latest->last_act)
      latest = x;
  }
}

} // namespace

const char* to_string(check_kind x) {
  switch (x) {
    case check_kind::lost:
      return "a:lost";
    case check_kind::overlap:
      return "b:overlap";
    case check_kind::lost_change:
      return "c:lost-change";
    default:
      return "ledger";
  }
}

size_t check_result::count(check_kind kind) const {
  return static_cast<size_t>(std::count_if(violations.begin(), violations.end(),
                                           [kind](auto& v) { return v.check == kind; }));
}

size_t check_result::paused_node_overlaps() const {
  return static_cast<size_t>(std::count_if(violations.begin(), violations.end(),
                                           [](auto& v) { return v.paused_node; }));
}

check_result check(const ledger& l, const run_facts& facts) {
  check_result out;
  for (auto& m : l.malformed())
    out.violations.push_back({check_kind::ledger, "", 0, "malformed line " + m});
  // Crashes that may reset a count: kills, and nodes that found themselves split.
  std::vector<int64_t> crashes;
  for (auto& k : facts.kills)
    crashes.push_back(k.ns);
  for (auto& e : l.node_events())
    if (e.args[0] == "split")
      crashes.push_back(e.ns);
  std::sort(crashes.begin(), crashes.end());
  auto crash_within = [&](int64_t from, int64_t to) {
    auto i = std::lower_bound(crashes.begin(), crashes.end(), from);
    return i != crashes.end() && *i <= to;
  };
  // Acks by child and request; applies by child and request.
  std::map<std::string, std::vector<const ack*>> acks;
  for (auto& a : facts.acks)
    acks[a.child].push_back(&a);
  static const std::vector<child_event> no_lines;
  for (auto& child : facts.children) {
    auto li = l.children().find(child);
    auto& lines = li != l.children().end() ? li->second : no_lines;
    auto xs = instances_of(l, child, lines, out.violations);
    for (auto& x : xs)
      if (x.started)
        ++out.instances;
    check_overlaps(child, lines, xs, facts, out);

    // (a) exactly one live instance, and which_children agrees.
    std::vector<const instance*> live;
    for (auto& x : xs)
      if (x.started && !x.stopped && facts.live_pids.count(x.pid) > 0)
        live.push_back(&x);
    int64_t last_ns = lines.empty() ? 0 : lines.back().ns;
    if (live.size() != 1) {
      std::ostringstream what;
      what << live.size() << " live instances";
      for (auto* x : live)
        what << (x == live.front() ? ": " : ", ") << x->name();
      if (xs.empty())
        what << "; it never started";
      out.violations.push_back({check_kind::lost, child, last_ns, what.str()});
    }
    if (facts.listed) {
      auto i = facts.listed->find(child);
      std::string what;
      if (i == facts.listed->end())
        what = "which_children does not list it";
      else if (i->second.empty())
        what = "which_children: it runs nowhere";
      else if (live.size() == 1 && i->second != live[0]->node)
        what = "which_children says it runs on " + i->second + ", the ledger on "
               + live[0]->node;
      if (!what.empty())
        out.violations.push_back({check_kind::lost, child, last_ns, what});
    }

    // (c) counts carried by planned moves; lineages are the runs of
    // instances that carry the count from one to the next.
    std::vector<size_t> lineage(xs.size(), 0);
    std::vector<size_t> started; // indexes of instances with a start line
    for (size_t i = 0; i < xs.size(); ++i)
      if (xs[i].started)
        started.push_back(i);
    for (size_t k = 1; k < started.size(); ++k) {
      auto& p = xs[started[k - 1]];
      auto& n = xs[started[k]];
      bool kept = n.start_count == p.last_count;
      bool reset = false;
      if (p.planned_stop()) {
        ++out.planned_moves;
        if (!kept && crash_within(p.stop_ns, n.start_ns)) {
          reset = true;
          ++out.crash_resets;
        } else if (!kept) {
          reset = true;
          std::ostringstream what;
          what << "planned move lost the count: " << p.name() << " stopped ("
               << p.reason << ") at count " << p.last_count << ", " << n.name()
               << " started with " << n.start_count;
          out.violations.push_back({check_kind::lost_change, child, n.start_ns, what.str()});
        }
      } else if (!kept) {
        // After a crash: 0, or the count of a snapshot an earlier instance
        // gave (the newest its replicas received); a new lineage either way.
        reset = true;
        auto snapped = [&] {
          for (size_t j = 0; j < started[k]; ++j)
            for (auto c : xs[j].snaps)
              if (c == n.start_count)
                return true;
          return false;
        };
        if (n.start_count == 0) {
          ++out.crash_resets;
        } else if (snapped()) {
          ++out.crash_restores;
        } else {
          std::ostringstream what;
          what << n.name() << " started with count " << n.start_count << ", neither 0, the count of "
               << p.name() << " (" << p.last_count << "), nor that of a snapshot";
          out.violations.push_back({check_kind::lost_change, child, n.start_ns, what.str()});
        }
      }
      lineage[started[k]] = lineage[started[k - 1]] + (reset ? 1 : 0);
    }
    for (size_t i = 0; i < xs.size(); ++i)
      if (!xs[i].started && i > 0)
        lineage[i] = lineage[i - 1];

    // (c) every acked reply came from one apply, applied once per lineage,
    // and later instances of its lineage start with at least its value.
    std::map<uint64_t, std::vector<std::pair<size_t, uint64_t>>> applies; // request -> (instance, count)
    std::map<uint32_t, size_t> index;
    for (size_t i = 0; i < xs.size(); ++i)
      index[xs[i].key] = i;
    for (auto& e : lines)
      if (e.kind == event_kind::apply)
        applies[e.a].emplace_back(index[e.instance], e.b);
    for (auto& [req, where] : applies)
      for (size_t j = 1; j < where.size(); ++j) {
        if (lineage[where[j].first] != lineage[where[0].first]) {
          ++out.reapplied_after_crash;
          continue;
        }
        std::ostringstream what;
        what << "request " << req << " applied twice: by " << xs[where[0].first].name()
             << " and by " << xs[where[j].first].name();
        out.violations.push_back({check_kind::lost_change, child, 0, what.str()});
      }
    for (auto* a : acks[child]) {
      auto i = applies.find(a->request);
      const std::pair<size_t, uint64_t>* hit = nullptr;
      if (i != applies.end())
        for (auto& w : i->second)
          if (w.second == a->value)
            hit = &w;
      if (hit == nullptr) {
        std::ostringstream what;
        what << "request " << a->request << " acked with " << a->value
             << (i == applies.end() ? " but never applied" : " but applied with another count");
        out.violations.push_back({check_kind::lost_change, child, a->ns, what.str()});
        continue;
      }
      for (size_t j = hit->first + 1; j < xs.size(); ++j) {
        if (lineage[j] != lineage[hit->first])
          break;
        if (xs[j].started && xs[j].start_count < a->value) {
          std::ostringstream what;
          what << "acked value " << a->value << " (request " << a->request << ", applied by "
               << xs[hit->first].name() << ") lost: " << xs[j].name() << " started with "
               << xs[j].start_count;
          out.violations.push_back({check_kind::lost_change, child, xs[j].start_ns, what.str()});
          break;
        }
      }
    }

    // (d) restart time of the children of each killed process.
    for (auto& k : facts.kills) {
      if (k.behind_cut)
        continue;
      bool ran = std::any_of(xs.begin(), xs.end(), [&](auto& x) {
        return x.pid == k.pid && x.started && x.start_ns <= k.ns
               && (!x.stopped || x.stop_ns > k.ns);
      });
      if (!ran)
        continue;
      auto next = std::find_if(xs.begin(), xs.end(), [&](auto& x) {
        return x.started && x.start_ns > k.ns && x.pid != k.pid;
      });
      if (next == xs.end())
        ++out.not_restarted;
      else
        out.restart_ns.push_back(next->start_ns - k.ns);
    }
  }
  if (!facts.listed)
    out.violations.push_back({check_kind::lost, "", 0, "which_children did not answer"});
  return out;
}

} // namespace ringvisor::chaos
