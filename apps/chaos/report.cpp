#include "report.hpp"

#include <algorithm>
#include <map>

#include <fmt/format.h>

namespace ringvisor::chaos {

namespace {

void row(std::ostream& out, const std::string& label, const std::string& value,
         const std::string& extra = "") {
  out << fmt::format("  {:<32} {:>12}", label, value);
  if (!extra.empty())
    out << "  " << extra;
  out << '\n';
}

void row(std::ostream& out, const std::string& label, uint64_t value,
         const std::string& extra = "") {
  row(out, label, std::to_string(value), extra);
}

std::string ms(int64_t ns) {
  return fmt::format("{} ms", (ns + 500'000) / 1'000'000);
}

// The value below which `q` of the sorted `xs` lie (nearest rank).
int64_t quantile(const std::vector<int64_t>& xs, double q) {
  auto rank = static_cast<size_t>(q * static_cast<double>(xs.size()) + 0.999999);
  return xs[std::min(xs.size(), std::max<size_t>(rank, 1)) - 1];
}

} // namespace

void print_table(std::ostream& out, const run_summary& s) {
  auto& r = s.result;
  out << fmt::format("\nringvisor-chaos: {} nodes, {} children, {:.1f} s, seed {}\n", s.nodes,
                     s.children, s.seconds, s.seed);
  std::map<fault_kind, size_t> per_kind;
  size_t failed = 0;
  for (auto& f : s.faults) {
    ++per_kind[f.kind];
    failed += f.failed ? 1 : 0;
  }
  row(out, "faults injected", s.faults.size(),
      failed > 0 ? fmt::format("({} could not be undone)", failed) : "");
  for (auto k : all_fault_kinds)
    row(out, std::string{"  "} + to_string(k), per_kind[k]);
  row(out, "children", s.children);
  row(out, "calls", s.calls.calls);
  row(out, "  acked", s.calls.acked);
  std::string why;
  for (auto& [err, n] : s.calls.failed)
    why += fmt::format("{}{} {}", why.empty() ? "" : ", ", err, n);
  row(out, "  failed (not violations)", s.calls.calls - s.calls.acked, why);
  row(out, "moves (pin or unpin)", s.calls.moves);
  row(out, "  acked", s.calls.moves_acked);
  why.clear();
  for (auto& [err, n] : s.calls.moves_failed)
    why += fmt::format("{}{} {}", why.empty() ? "" : ", ", err, n);
  row(out, "  failed (not violations)", s.calls.moves - s.calls.moves_acked, why);
  row(out, "ledger lines", s.ledger_lines);
  row(out, "  instances (starts)", r.instances);
  row(out, "  planned moves", r.planned_moves);
  row(out, "  count resets after a crash", r.crash_resets);
  row(out, "  crash restores from a snapshot", r.crash_restores);
  row(out, "  reapplied after a crash", r.reapplied_after_crash);
  row(out, "  splits reported by nodes", s.splits);
  out << fmt::format("  {:<32} {:>12}\n", "checks", "violations");
  row(out, "  (a) no child lost", r.count(check_kind::lost));
  row(out, "  (b) no two instances at once", r.count(check_kind::overlap));
  if (auto n = r.paused_node_overlaps(); n > 0)
    row(out, "      of which paused-node limit", n, "(docs/ring-supervisor.md, Limits)");
  row(out, "  (c) no acked change lost", r.count(check_kind::lost_change));
  row(out, "  ledger integrity", r.count(check_kind::ledger));
  auto xs = r.restart_ns;
  std::sort(xs.begin(), xs.end());
  row(out, "(d) restarts after kill -9", xs.size());
  if (!xs.empty()) {
    row(out, "  median", ms(quantile(xs, 0.5)));
    row(out, "  p99", ms(quantile(xs, 0.99)));
    row(out, "  max", ms(xs.back()));
    row(out, "  over 2 s", static_cast<uint64_t>(std::count_if(
                             xs.begin(), xs.end(), [](int64_t x) { return x > 2'000'000'000; })));
  }
  row(out, "  never restarted", r.not_restarted);
  row(out, "seed", std::to_string(s.seed));
  out << fmt::format("  {:<32} {}{}\n", "ledger dir", s.dir, s.dir_kept ? "" : " (removed)");
  for (auto& note : s.notes)
    out << "  note: " << note << '\n';
  out << fmt::format("  {:<32} {:>12}\n", "result",
                     r.violations.empty() ? "OK" : "VIOLATIONS");
}

void print_violations(std::ostream& out, const ledger& l, const check_result& r,
                      size_t max) {
  size_t shown = 0;
  for (auto& v : r.violations) {
    if (shown++ == max) {
      out << "... and " << (r.violations.size() - max) << " more\n";
      break;
    }
    out << "\nviolation " << to_string(v.check) << (v.child.empty() ? "" : " child ")
        << v.child << ": " << v.what << '\n';
    if (v.child.empty())
      continue;
    out << "  ledger of " << v.child << " around " << v.ns << ":\n";
    for (auto& line : l.window(v.child, v.ns, 6))
      out << "  " << line << '\n';
  }
}

} // namespace ringvisor::chaos
