// Reading a chaos ledger: parsing, sorting, and the window of lines shown
// with a violation.

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string_view>

#include "ledger_check.hpp"

namespace ringvisor::chaos {

namespace {

template <class T>
bool number(std::string_view str, T& x) {
  auto [end, ec] = std::from_chars(str.data(), str.data() + str.size(), x);
  return ec == std::errc{} && end == str.data() + str.size() && !str.empty();
}

// Splits at spaces; at most `max` words (more: returns max + 1).
size_t split(std::string_view line, std::string_view* words, size_t max) {
  size_t n = 0;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && line[i] == ' ')
      ++i;
    if (i == line.size())
      break;
    auto j = line.find(' ', i);
    if (j == std::string_view::npos)
      j = line.size();
    if (n == max)
      return max + 1;
    words[n++] = line.substr(i, j - i);
    i = j;
  }
  return n;
}

constexpr size_t max_words = 9;

// The fixed fields of a line, checked; its event's arguments in `args`.
struct fields {
  int64_t ns = 0;
  int64_t pid = 0;
  std::string_view node, child, instance, event;
  std::string_view args[3];
  size_t nargs = 0;
};

bool parse_fields(std::string_view line, fields& f) {
  std::string_view w[max_words];
  auto n = split(line, w, max_words);
  if (n < 7 || n > 8 || !number(w[0], f.ns) || !number(w[1], f.pid))
    return false;
  f.node = w[2];
  f.child = w[3];
  f.instance = w[4];
  f.event = w[5];
  f.nargs = n - 6;
  for (size_t i = 0; i < f.nargs; ++i)
    f.args[i] = w[6 + i];
  uint64_t u = 0;
  auto count = [&](size_t i) { return number(f.args[i], u); };
  bool ok = false;
  if (f.event == "start" || f.event == "apply")
    ok = f.nargs == 2 && count(0) && count(1);
  else if (f.event == "tick" || f.event == "snap")
    ok = f.nargs == 1 && count(0);
  else if (f.event == "stop")
    ok = f.nargs == 2 && count(0);
  else if (f.event == "status")
    ok = f.nargs == 1;
  // Node events, and only they, have no child.
  return ok && (f.event == "status") == (f.child == "-");
}

event_kind kind_of(std::string_view event) {
  if (event == "start")
    return event_kind::start;
  if (event == "apply")
    return event_kind::apply;
  if (event == "stop")
    return event_kind::stop;
  if (event == "snap")
    return event_kind::snap;
  return event_kind::tick;
}

const char* to_string(event_kind x) {
  switch (x) {
    case event_kind::start:
      return "start";
    case event_kind::apply:
      return "apply";
    case event_kind::stop:
      return "stop";
    case event_kind::snap:
      return "snap";
    default:
      return "tick";
  }
}

} // namespace

std::optional<ledger_line> parse_line(const std::string& text) {
  fields f;
  if (!parse_fields(text, f))
    return std::nullopt;
  ledger_line result;
  result.ns = f.ns;
  result.pid = f.pid;
  result.node = f.node;
  result.child = f.child;
  result.instance = f.instance;
  result.event = f.event;
  for (size_t i = 0; i < f.nargs; ++i)
    result.args.emplace_back(f.args[i]);
  result.text = text;
  return result;
}

ledger ledger::read_dir(const std::string& dir, std::string* err) {
  ledger result;
  std::error_code ec;
  std::filesystem::directory_iterator files{dir, ec};
  if (ec) {
    if (err)
      *err = dir + ": " + ec.message();
    return result;
  }
  for (auto& entry : files) {
    if (entry.path().extension() != ".ledger")
      continue;
    std::ifstream in{entry.path()};
    std::string line;
    size_t no = 0;
    while (std::getline(in, line)) {
      if (in.eof()) { // no newline: cut off by a SIGKILL mid-write
        ++result.truncated_;
        break;
      }
      result.add(line, entry.path().filename().string() + ":" + std::to_string(++no));
    }
  }
  result.sort();
  return result;
}

uint32_t ledger::intern(const std::string& x) {
  auto [i, added] = ids_.emplace(x, static_cast<uint32_t>(names_.size()));
  if (added)
    names_.push_back(x);
  return i->second;
}

void ledger::add(const std::string& text, const std::string& where) {
  ++size_;
  fields f;
  if (!parse_fields(text, f)) {
    malformed_.push_back((where.empty() ? "" : where + ": ") + text);
    return;
  }
  if (f.event == "status") {
    node_events_.push_back(*parse_line(text));
    return;
  }
  child_event e;
  e.ns = f.ns;
  e.pid = static_cast<int32_t>(f.pid);
  e.node = intern(std::string{f.node});
  e.instance = intern(std::string{f.instance});
  e.kind = kind_of(f.event);
  number(f.args[0], e.a);
  if (e.kind == event_kind::stop)
    e.b = intern(std::string{f.args[1]});
  else if (f.nargs > 1)
    number(f.args[1], e.b);
  children_[std::string{f.child}].push_back(e);
}

void ledger::sort() {
  for (auto& [id, xs] : children_)
    std::stable_sort(xs.begin(), xs.end(), [](auto& x, auto& y) { return x.ns < y.ns; });
  std::stable_sort(node_events_.begin(), node_events_.end(),
                   [](auto& x, auto& y) { return x.ns < y.ns; });
}

std::string ledger::text(const std::string& child, const child_event& e) const {
  std::ostringstream out;
  out << e.ns << ' ' << e.pid << ' ' << name(e.node) << ' ' << child << ' '
      << name(e.instance) << ' ' << to_string(e.kind) << ' ' << e.a;
  if (e.kind == event_kind::stop)
    out << ' ' << name(static_cast<uint32_t>(e.b));
  else if (e.kind != event_kind::tick && e.kind != event_kind::snap)
    out << ' ' << e.b;
  return out.str();
}

std::vector<std::string> ledger::window(const std::string& child, int64_t ns,
                                        size_t around) const {
  std::vector<std::string> result;
  auto i = children_.find(child);
  if (i == children_.end())
    return result;
  auto& xs = i->second;
  auto is_tick = [&](size_t k) { return xs[k].kind == event_kind::tick; };
  auto at = static_cast<size_t>(
    std::lower_bound(xs.begin(), xs.end(), ns, [](auto& x, int64_t t) { return x.ns < t; })
    - xs.begin());
  // Widen [first, last) to `around` lines that are not ticks on each side.
  size_t first = at;
  for (size_t n = 0; first > 0 && n < around;)
    if (!is_tick(--first))
      ++n;
  size_t last = at;
  for (size_t n = 0; last < xs.size() && n <= around; ++last)
    if (!is_tick(last))
      ++n;
  for (size_t k = first; k < last;) {
    std::string mark = k == at ? "> " : "  ";
    if (!is_tick(k)) {
      result.push_back(mark + text(child, xs[k]));
      ++k;
      continue;
    }
    // A run of ticks (cut at `at`): one line per instance.
    size_t end = k;
    while (end < last && is_tick(end) && (end == k || end != at))
      ++end;
    std::vector<uint32_t> order;
    std::map<uint32_t, std::vector<size_t>> runs;
    for (size_t j = k; j < end; ++j) {
      auto& run = runs[xs[j].instance];
      if (run.empty())
        order.push_back(xs[j].instance);
      run.push_back(j);
    }
    for (auto inst : order) {
      auto& run = runs[inst];
      auto& a = xs[run.front()];
      auto& b = xs[run.back()];
      std::ostringstream out;
      out << mark;
      if (run.size() == 1)
        out << text(child, a);
      else
        out << "... " << run.size() << " ticks of " << name(inst) << " on " << name(a.node)
            << " (pid " << a.pid << ") from " << a.ns << " to " << b.ns << ", count " << a.a
            << ".." << b.a;
      result.push_back(out.str());
      mark = "  ";
    }
    k = end;
  }
  return result;
}

} // namespace ringvisor::chaos
