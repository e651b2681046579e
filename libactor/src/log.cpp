#include "ringvisor/actor/log.hpp"

#include <atomic>
#include <memory>
#include <mutex>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace ringvisor::log {

namespace {

std::atomic<level> threshold{level::info};

struct sink_state {
  std::mutex mtx;
  std::string node_name = "-";
  std::shared_ptr<spdlog::logger> logger;
};

sink_state& state() {
  static sink_state instance;
  return instance;
}

std::shared_ptr<spdlog::logger> make_logger() {
  auto result = std::make_shared<spdlog::logger>(
    "ringvisor", std::make_shared<spdlog::sinks::stderr_sink_mt>());
  result->set_pattern("%Y-%m-%dT%H:%M:%S.%e %l %v");
  result->set_level(spdlog::level::trace);
  return result;
}

spdlog::level::level_enum to_spdlog(level lvl) {
  switch (lvl) {
    case level::trace:
      return spdlog::level::trace;
    case level::debug:
      return spdlog::level::debug;
    case level::info:
      return spdlog::level::info;
    case level::warn:
      return spdlog::level::warn;
    case level::error:
      return spdlog::level::err;
    case level::off:
      break;
  }
  return spdlog::level::off;
}

void append_value(std::string& out, std::string_view value) {
  auto plain = !value.empty()
               && value.find_first_of(" \t\"=\n") == std::string_view::npos;
  if (plain) {
    out += value;
    return;
  }
  out += '"';
  for (auto c : value) {
    if (c == '"' || c == '\\')
      out += '\\';
    out += c == '\n' ? ' ' : c;
  }
  out += '"';
}

} // namespace

bool parse_level(std::string_view str, level& result) {
  static constexpr std::pair<std::string_view, level> names[] = {
    {"trace", level::trace}, {"debug", level::debug}, {"info", level::info},
    {"warn", level::warn},   {"error", level::error}, {"off", level::off}};
  for (auto& [name, lvl] : names)
    if (name == str) {
      result = lvl;
      return true;
    }
  return false;
}

void configure(level lvl, std::string node_name) {
  auto& st = state();
  std::lock_guard<std::mutex> guard{st.mtx};
  st.node_name = std::move(node_name);
  threshold = lvl;
}

bool enabled(level lvl) noexcept {
  auto current = threshold.load(std::memory_order_relaxed);
  return current != level::off && lvl >= current;
}

void write(level lvl, std::string_view event,
           std::initializer_list<field> fields) {
  auto& st = state();
  std::lock_guard<std::mutex> guard{st.mtx};
  if (!st.logger)
    st.logger = make_logger();
  std::string line = "node=";
  append_value(line, st.node_name);
  line += " event=";
  line += event;
  for (auto& f : fields) {
    line += ' ';
    line += f.key;
    line += '=';
    append_value(line, f.value);
  }
  st.logger->log(to_spdlog(lvl), line);
}

} // namespace ringvisor::log
