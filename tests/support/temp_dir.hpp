#pragma once

// A fresh directory under /tmp for a test's files, removed at the end.

#include <filesystem>
#include <string>
#include <system_error>

#include <doctest/doctest.h>
#include <stdlib.h>

namespace ringvisor::test {

/// A fresh directory `/tmp/<prefix>-XXXXXX`, removed with its files when
/// the object goes.
struct temp_dir {
  std::string path;

  explicit temp_dir(const std::string& prefix = "ringvisor") {
    std::string tmpl = "/tmp/" + prefix + "-XXXXXX";
    REQUIRE_MESSAGE(::mkdtemp(tmpl.data()) != nullptr, "cannot make " << tmpl);
    path = tmpl;
  }

  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
    CHECK_MESSAGE(!ec, "cannot remove " << path << ": " << ec.message());
  }

  /// Returns the path of `name` in the directory.
  std::string file(const std::string& name) const {
    return path + "/" + name;
  }
};

} // namespace ringvisor::test
