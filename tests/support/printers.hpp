#pragma once

// doctest printers for values in failed checks.

#include <string>
#include <vector>

#include <doctest/doctest.h>

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
