#include "tools/vnet-qemu/qemu_process.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>

namespace vnetqemu {
namespace {

constexpr int kGraceMs = 1000;

std::atomic<pid_t> g_live_pid{-1};
std::atomic<void (*)()> g_extra_cleanup{nullptr};

void kill_live_child() {
  pid_t pid = g_live_pid.exchange(-1);
  if (pid > 0) {
    kill(-pid, SIGKILL);  // its process group
    kill(pid, SIGKILL);
  }
  void (*extra)() = g_extra_cleanup.exchange(nullptr);
  if (extra != nullptr) extra();
}

void on_fatal_signal(int sig) {
  kill_live_child();
  signal(sig, SIG_DFL);
  raise(sig);
}

int64_t now_ms() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1000000;
}

}  // namespace

void QemuProcess::install_signal_handlers() {
  static bool installed = false;
  if (installed) return;
  installed = true;
  struct sigaction sa {};
  sa.sa_handler = on_fatal_signal;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) sigaction(sig, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
  std::atexit(kill_live_child);
}

void QemuProcess::set_extra_cleanup(void (*fn)()) {
  install_signal_handlers();
  g_extra_cleanup.store(fn);
}

bool QemuProcess::start(const std::vector<std::string>& argv) {
  install_signal_handlers();
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0) {
    error_ = std::string("pipe: ") + strerror(errno);
    return false;
  }
  if (pipe2(err, O_CLOEXEC) != 0) {
    error_ = std::string("pipe: ") + strerror(errno);
    close(out[0]);
    close(out[1]);
    return false;
  }
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);

  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    error_ = std::string("fork: ") + strerror(errno);
    for (int fd : {out[0], out[1], err[0], err[1]}) close(fd);
    return false;
  }
  if (pid == 0) {
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE}) signal(sig, SIG_DFL);
    execvp(args[0], args.data());
    dprintf(2, "exec %s: %s\n", args[0], strerror(errno));
    _exit(127);
  }
  setpgid(pid, pid);
  pid_ = pid;
  g_live_pid.store(pid);
  close(out[1]);
  close(err[1]);
  out_fd_ = out[0];
  err_fd_ = err[0];
  fcntl(out_fd_, F_SETFL, fcntl(out_fd_, F_GETFL) | O_NONBLOCK);
  fcntl(err_fd_, F_SETFL, fcntl(err_fd_, F_GETFL) | O_NONBLOCK);
  out_open_ = err_open_ = true;
  reaped_ = false;
  return true;
}

void QemuProcess::drain(int fd, std::string* out, bool* open) {
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n > 0) {
      for (ssize_t i = 0; i < n; ++i)
        if (buf[i] != '\r') out->push_back(buf[i]);
      continue;
    }
    if (n == 0) *open = false;
    if (n < 0 && errno == EINTR) continue;
    return;
  }
}

bool QemuProcess::wait_for(int extra_fd, int timeout_ms) {
  pollfd fds[3];
  int n = 0;
  int out_i = -1, err_i = -1, extra_i = -1;
  if (out_open_) {
    out_i = n;
    fds[n++] = {out_fd_, POLLIN, 0};
  }
  if (err_open_) {
    err_i = n;
    fds[n++] = {err_fd_, POLLIN, 0};
  }
  if (extra_fd >= 0) {
    extra_i = n;
    fds[n++] = {extra_fd, POLLIN, 0};
  }
  if (n == 0) {
    reap(false);
    if (timeout_ms > 0) usleep(static_cast<useconds_t>(timeout_ms < 20 ? timeout_ms : 20) * 1000);
    return false;
  }
  int r = poll(fds, static_cast<nfds_t>(n), timeout_ms);
  if (r <= 0) return false;
  if (out_i >= 0 && fds[out_i].revents) drain(out_fd_, &console_, &out_open_);
  if (err_i >= 0 && fds[err_i].revents) drain(err_fd_, &stderr_, &err_open_);
  if (!out_open_ && !err_open_) reap(false);
  return extra_i >= 0 && (fds[extra_i].revents & POLLIN);
}

void QemuProcess::reap(bool block) {
  if (pid_ <= 0 || reaped_) return;
  int st = 0;
  pid_t r;
  do {
    r = waitpid(pid_, &st, block ? 0 : WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == pid_) {
    reaped_ = true;
    status_ = WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? -WTERMSIG(st) : -1;
    g_live_pid.store(-1);
  }
}

bool QemuProcess::running() {
  reap(false);
  return pid_ > 0 && !reaped_;
}

bool QemuProcess::wait_exit(int timeout_ms) {
  int64_t deadline = now_ms() + timeout_ms;
  while (running()) {
    int64_t left = deadline - now_ms();
    if (left <= 0) return false;
    wait_for(-1, static_cast<int>(left < 50 ? left : 50));
  }
  // Collect what is still in the pipes.
  if (out_open_) drain(out_fd_, &console_, &out_open_);
  if (err_open_) drain(err_fd_, &stderr_, &err_open_);
  return true;
}

void QemuProcess::stop() {
  if (pid_ > 0 && !reaped_) {
    kill(pid_, SIGTERM);
    if (!wait_exit(kGraceMs)) {
      kill(-pid_, SIGKILL);
      kill(pid_, SIGKILL);
      reap(true);
    }
  }
  g_live_pid.store(-1);
  if (out_fd_ >= 0) {
    if (out_open_) drain(out_fd_, &console_, &out_open_);
    close(out_fd_);
    out_fd_ = -1;
  }
  if (err_fd_ >= 0) {
    if (err_open_) drain(err_fd_, &stderr_, &err_open_);
    close(err_fd_);
    err_fd_ = -1;
  }
}

void QemuProcess::reset() {
  stop();
  pid_ = -1;
  out_open_ = err_open_ = reaped_ = false;
  status_ = 0;
  console_.clear();
  stderr_.clear();
  error_.clear();
}

bool QemuProcess::find_line(const std::string& prefix, std::string* line, size_t from) const {
  size_t pos = from;
  while (pos < console_.size()) {
    size_t end = console_.find('\n', pos);
    if (end == std::string::npos) return false;  // only whole lines
    if (console_.compare(pos, prefix.size(), prefix) == 0) {
      if (line != nullptr) *line = console_.substr(pos, end - pos);
      return true;
    }
    pos = end + 1;
  }
  return false;
}

}  // namespace vnetqemu
