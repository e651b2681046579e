#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <type_traits>

#include <fmt/format.h>

#include "ringvisor/actor/export.hpp"

/// A thin structured-logging facade: one line per event, `key=value` fields.
///
/// Example:
/// ```
/// namespace log = ringvisor::log;
/// log::info("child_restarted", {{"sup", "root"}, {"child", id}, {"restarts", 2}});
/// // 2026-11-23T10:00:00.123 info node=a event=child_restarted sup=root child=w1 restarts=2
/// ```
namespace ringvisor::log {

/// Severity, from chattiest to quietest.
enum class level { trace, debug, info, warn, error, off };

/// Parses `"trace"`, `"debug"`, `"info"`, `"warn"`, `"error"` or `"off"`.
RINGVISOR_ACTOR_EXPORT bool parse_level(std::string_view str, level& result);

/// One `key=value` pair; values with spaces or quotes are quoted on output.
struct field {
  template <class T>
  field(std::string_view k, const T& v) : key(k) {
    if constexpr (std::is_convertible_v<const T&, std::string_view>)
      value = std::string{std::string_view{v}};
    else
      value = fmt::format("{}", v);
  }

  std::string_view key;
  std::string value;
};

/// Sets the threshold and the `node=` field that starts every line.
RINGVISOR_ACTOR_EXPORT void configure(level threshold, std::string node_name);

/// Returns whether events at `lvl` are written.
RINGVISOR_ACTOR_EXPORT bool enabled(level lvl) noexcept;

/// Writes one event line to standard error.
RINGVISOR_ACTOR_EXPORT void write(level lvl, std::string_view event,
                                  std::initializer_list<field> fields);

/// Logs `event` at debug level.
inline void debug(std::string_view event, std::initializer_list<field> fields = {}) {
  if (enabled(level::debug))
    write(level::debug, event, fields);
}

/// Logs `event` at info level.
inline void info(std::string_view event, std::initializer_list<field> fields = {}) {
  if (enabled(level::info))
    write(level::info, event, fields);
}

/// Logs `event` at warn level.
inline void warn(std::string_view event, std::initializer_list<field> fields = {}) {
  if (enabled(level::warn))
    write(level::warn, event, fields);
}

/// Logs `event` at error level.
inline void error(std::string_view event, std::initializer_list<field> fields = {}) {
  if (enabled(level::error))
    write(level::error, event, fields);
}

} // namespace ringvisor::log
