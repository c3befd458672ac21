// One qemu-system-x86_64 child process, never left behind.
//
//   runner ---- fork/exec ----> qemu (own process group, stdin /dev/null)
//     ^  stdout pipe: guest serial console (COM1)
//     ^  stderr pipe: QEMU's own diagnostics
//
// Cleanup on every path: the destructor terminates and reaps QEMU (SIGTERM,
// then SIGKILL after a grace period); SIGINT/SIGTERM/SIGHUP/SIGQUIT to the
// runner kill QEMU before the runner dies of the signal; an atexit hook
// covers exit() from anywhere; and the child asks the kernel for SIGKILL
// when the runner dies (PR_SET_PDEATHSIG), which covers SIGKILL too. An
// extra cleanup (set_extra_cleanup: the run's network namespace) runs after
// QEMU was killed on the signal and exit paths.
//
// The pipes are drained whenever the runner waits (wait_for), so a chatty
// guest can never block on a full console pipe.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace vnetqemu {

class QemuProcess {
 public:
  QemuProcess() = default;
  QemuProcess(const QemuProcess&) = delete;
  QemuProcess& operator=(const QemuProcess&) = delete;
  ~QemuProcess() { stop(); }

  // Starts argv[0] with argv. False (and error() says why) on failure.
  bool start(const std::vector<std::string>& argv);
  // Waits up to timeout_ms for output or for extra_fd to become readable,
  // draining QEMU's pipes. Returns true when extra_fd is readable.
  bool wait_for(int extra_fd, int timeout_ms);
  // True while the child has not been reaped.
  bool running();
  // Waits up to timeout_ms for QEMU to exit on its own; true if it did.
  bool wait_exit(int timeout_ms);
  // Terminates (SIGTERM, then SIGKILL) and reaps QEMU; idempotent.
  void stop();
  // stop(), then forget everything, ready for another start().
  void reset();

  // The child's pid while it runs (-1 before start and once reaped).
  pid_t pid() const { return reaped_ ? -1 : pid_; }
  // Exit status (0..255) when QEMU exited normally, -signal when killed.
  int exit_status() const { return status_; }
  bool exited() const { return reaped_; }
  const std::string& console() const { return console_; }
  const std::string& stderr_text() const { return stderr_; }
  const std::string& error() const { return error_; }
  // First console line starting with prefix, from byte offset from on.
  bool find_line(const std::string& prefix, std::string* line, size_t from = 0) const;

  static void install_signal_handlers();
  // A second cleanup run after QEMU was killed, on the same paths (fatal
  // signals, exit()): async-signal-safe code only (netns.h).
  static void set_extra_cleanup(void (*fn)());

 private:
  void drain(int fd, std::string* out, bool* open);
  void reap(bool block);

  pid_t pid_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
  bool out_open_ = false;
  bool err_open_ = false;
  bool reaped_ = false;
  int status_ = 0;
  std::string console_;
  std::string stderr_;
  std::string error_;
};

}  // namespace vnetqemu
