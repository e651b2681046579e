#pragma once

// doctest printers for values in failed checks.

#include <string>
#include <vector>

#include <caf/expected.hpp>
#include <doctest/doctest.h>

#include "ringvisor/actor/errc.hpp"

/// Lets doctest print lists of strings in failed checks.
template <>
struct doctest::StringMaker<std::vector<std::string>> {
  static doctest::String convert(const std::vector<std::string>& xs) {
    std::string result = "{";
    for (auto& x : xs)
      result += (result.size() > 1 ? ", \"" : "\"") + x + "\"";
    return (result + "}").c_str();
  }
};

namespace ringvisor::test {

/// Why `x` holds no value, for a check's message (empty if it holds one:
/// doctest renders messages of passing checks too, with `-s`).
template <class T>
std::string why(const caf::expected<T>& x) {
  return x ? std::string{} : actor::render(x.error());
}

} // namespace ringvisor::test
