#pragma once

// A child process for multi-process tests: started with fork and exec,
// optionally under a group id of its own, killed when the test process dies,
// its standard output read line by line with a deadline, signalled by pid,
// and always reaped (SIGKILL first if still running) when the object goes
// away.

#include <chrono>
#include <csignal>
#include <cstdio>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace ringvisor::test {

class process {
public:
  /// Starts `argv[0]` (a path) with `argv`; stdout is captured, stderr
  /// inherited (or captured with it, `with_stderr`). The child gets SIGKILL when the calling thread exits (for a
  /// test: when the test process dies). With `gid`, the child drops its
  /// supplementary groups and runs with `gid` as real and effective group id
  /// (needs root), so that iptables' owner match can tell its packets from
  /// those of other processes.
  explicit process(std::vector<std::string> argv,
                   std::optional<gid_t> gid = std::nullopt, bool with_stderr = false) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0)
      return;
    std::vector<char*> args;
    for (auto& a : argv)
      args.push_back(a.data());
    args.push_back(nullptr);
    pid_ = fork_exec(args, fds, gid, with_stderr);
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

  /// Returns whether the process was started and not reaped yet.
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
      if (left.count() <= 0 || out_ < 0)
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

  /// Waits at most `timeout` for the process to exit; returns its wait
  /// status, or nothing if it is still running.
  std::optional<int> wait_for(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (running()) {
      if (::waitpid(pid_, &status_, WNOHANG) == pid_) {
        reaped_ = true;
        break;
      }
      if (std::chrono::steady_clock::now() >= deadline)
        return std::nullopt;
      std::this_thread::sleep_for(std::chrono::milliseconds{5});
    }
    return status_;
  }

private:
  // Not posix_spawn: it cannot change the group id nor tie the child's life
  // to ours. The child of a multi-threaded parent may only make
  // async-signal-safe calls until it execs: no allocation here, `args` is
  // ready beforehand.
  static pid_t fork_exec(std::vector<char*>& args, int fds[2],
                         std::optional<gid_t> gid, bool with_stderr) {
    auto parent = ::getpid();
    auto pid = ::fork();
    if (pid != 0)
      return pid; // the parent, or -1
    if (gid && (::setgroups(0, nullptr) != 0 || ::setgid(*gid) != 0))
      ::_exit(126);
    // Dies with the test process, even if that is killed with SIGKILL. After
    // setgid, which clears the setting.
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || ::getppid() != parent)
      ::_exit(125);
    if (::dup2(fds[1], STDOUT_FILENO) < 0
        || (with_stderr && ::dup2(fds[1], STDERR_FILENO) < 0))
      ::_exit(126);
    ::execve(args[0], args.data(), environ);
    ::_exit(127);
  }

  pid_t pid_ = -1;
  int out_ = -1;
  std::string buf_;
  bool reaped_ = false;
  int status_ = 0;
};

/// What a shell command printed (stdout and stderr) and its exit code.
struct shell_result {
  int code = -1; // -1: killed by a signal
  std::string out;
};

/// Runs `cmd` with `sh -c`, waits for it and returns what it printed.
inline shell_result run_shell(const std::string& cmd) {
  shell_result result;
  auto pipe = ::popen((cmd + " 2>&1").c_str(), "r");
  if (pipe == nullptr)
    return result;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof(buf), pipe)) > 0;)
    result.out.append(buf, n);
  auto status = ::pclose(pipe);
  result.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

} // namespace ringvisor::test
