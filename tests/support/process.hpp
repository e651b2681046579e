#pragma once

// A child process for multi-process tests: started with posix_spawn, its
// standard output read line by line with a deadline, signalled by pid, and
// always reaped (SIGKILL first if still running) when the object goes away.

#include <chrono>
#include <csignal>
#include <optional>
#include <string>
#include <vector>

#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace ringvisor::test {

class process {
public:
  /// Starts `argv[0]` with `argv`; stdout is captured, stderr inherited.
  explicit process(std::vector<std::string> argv) {
    int fds[2];
    if (::pipe(fds) != 0)
      return;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, fds[0]);
    std::vector<char*> args;
    for (auto& a : argv)
      args.push_back(a.data());
    args.push_back(nullptr);
    if (posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ) != 0)
      pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
    ::close(fds[1]);
    out_ = fds[0];
  }

  process(const process&) = delete;
  process& operator=(const process&) = delete;

  ~process() {
    if (running())
      signal(SIGKILL);
    wait();
    if (out_ >= 0)
      ::close(out_);
  }

  pid_t pid() const noexcept {
    return pid_;
  }

  bool running() const noexcept {
    return pid_ > 0 && !reaped_;
  }

  /// Returns the first line of output that starts with `prefix`, without
  /// the prefix, or nothing if none came within `timeout`.
  std::optional<std::string> read_line(const std::string& prefix,
                                       std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      for (auto nl = buf_.find('\n'); nl != std::string::npos;
           nl = buf_.find('\n')) {
        auto line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        if (line.rfind(prefix, 0) == 0)
          return line.substr(prefix.size());
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0)
        return std::nullopt;
      pollfd pfd{out_, POLLIN, 0};
      if (::poll(&pfd, 1, static_cast<int>(left.count())) <= 0)
        continue;
      char chunk[512];
      auto n = ::read(out_, chunk, sizeof(chunk));
      if (n <= 0)
        return std::nullopt;
      buf_.append(chunk, static_cast<size_t>(n));
    }
  }

  void signal(int signo) {
    if (running())
      ::kill(pid_, signo);
  }

  /// Waits for the process to exit and returns its wait status.
  int wait() {
    if (running()) {
      ::waitpid(pid_, &status_, 0);
      reaped_ = true;
    }
    return status_;
  }

private:
  pid_t pid_ = -1;
  int out_ = -1;
  std::string buf_;
  bool reaped_ = false;
  int status_ = 0;
};

} // namespace ringvisor::test
