#include "tools/vnet-qemu/netns.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tools/vnet-qemu/qemu_process.h"

namespace vnetqemu {
namespace {

// For the signal and atexit path: plain storage, async-signal-safe calls.
char g_ns_path[128];
int g_home_fd = -1;

void remove_namespace_now() {
  if (g_home_fd >= 0) setns(g_home_fd, CLONE_NEWNET);
  if (g_ns_path[0] != '\0') {
    umount2(g_ns_path, MNT_DETACH);
    unlink(g_ns_path);
    g_ns_path[0] = '\0';
  }
}

}  // namespace

bool run_command(const std::vector<std::string>& argv, std::string* error) {
  int err[2];
  if (pipe2(err, O_CLOEXEC) != 0) {
    *error = std::string("pipe: ") + strerror(errno);
    return false;
  }
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = fork();
  if (pid < 0) {
    *error = std::string("fork: ") + strerror(errno);
    close(err[0]);
    close(err[1]);
    return false;
  }
  if (pid == 0) {
    dup2(err[1], 2);
    int devnull = open("/dev/null", O_RDWR);
    if (devnull >= 0) {
      dup2(devnull, 0);
      dup2(devnull, 1);
    }
    execvp(args[0], args.data());
    dprintf(2, "cannot run %s: %s", args[0], strerror(errno));
    _exit(127);
  }
  close(err[1]);
  std::string text;
  char buf[512];
  for (;;) {
    ssize_t n = read(err[0], buf, sizeof(buf));
    if (n > 0) {
      text.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    break;
  }
  close(err[0]);
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(st) && WEXITSTATUS(st) == 0) return true;
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  std::string cmd;
  for (const std::string& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
  *error = "'" + cmd + "' failed" + (text.empty() ? "" : ": " + text);
  return false;
}

bool NetNs::create(uint32_t queues, std::string* error, bool* missing) {
  *missing = true;
  if (geteuid() != 0) {
    *error =
        "--net tap needs root: it creates a network namespace and a tap device in it "
        "(CAP_SYS_ADMIN, CAP_NET_ADMIN); run as root, or use --net socket / --net user";
    return false;
  }
  if (access("/dev/net/tun", R_OK | W_OK) != 0) {
    *error = std::string("--net tap needs /dev/net/tun (") + strerror(errno) +
             "): load the tun module or give the container the device";
    return false;
  }
  *missing = false;
  name_ = "vnetq-" + std::to_string(getpid());
  snprintf(g_ns_path, sizeof(g_ns_path), "/run/netns/%s", name_.c_str());
  QemuProcess::set_extra_cleanup(&remove_namespace_now);
  std::string e;
  if (!run_command({"ip", "netns", "add", name_}, &e)) {
    g_ns_path[0] = '\0';
    name_.clear();
    *error = e.find("cannot run") != std::string::npos ? "--net tap needs iproute2's ip: " + e
                                                       : "cannot create a network namespace: " + e;
    return false;
  }
  std::vector<std::string> tuntap = {"ip",  "-n",    name_,  "tuntap", "add",
                                     "dev", ifname_, "mode", "tap"};
  if (queues > 1) tuntap.push_back("multi_queue");
  const std::vector<std::vector<std::string>> steps = {
      {"ip", "-n", name_, "link", "set", "lo", "up"},
      tuntap,
      {"ip", "-n", name_, "addr", "add", "10.0.2.2/24", "dev", ifname_},
      {"ip", "-n", name_, "link", "set", ifname_, "up"},
  };
  for (const auto& step : steps) {
    if (!run_command(step, &e)) {
      *error = "setting up namespace " + name_ + ": " + e;
      destroy();
      return false;
    }
  }
  home_fd_ = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  int ns_fd = open(g_ns_path, O_RDONLY | O_CLOEXEC);
  if (home_fd_ < 0 || ns_fd < 0 || setns(ns_fd, CLONE_NEWNET) != 0) {
    *error = "cannot enter namespace " + name_ + ": " + strerror(errno);
    if (ns_fd >= 0) close(ns_fd);
    destroy();
    return false;
  }
  close(ns_fd);
  g_home_fd = home_fd_;
  // No IPv6 in the namespace (its sysctls are the namespace's own now):
  // the kernel would otherwise send router solicitations and MLD reports
  // down the tap as soon as QEMU attaches, frames the test did not send.
  for (const char* dev : {"all", "default", "vnt0"}) {
    const std::string path = std::string("/proc/sys/net/ipv6/conf/") + dev + "/disable_ipv6";
    int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
      if (write(fd, "1", 1) != 1) {
        // IPv6 traffic on the link only adds frames the guest ignores.
      }
      close(fd);
    }
  }
  return true;
}

bool NetNs::set_mtu(uint32_t mtu, std::string* error) {
  std::string e;
  if (!run_command({"ip", "-n", name_, "link", "set", ifname_, "mtu", std::to_string(mtu)}, &e)) {
    *error = "setting the tap's MTU: " + e;
    return false;
  }
  return true;
}

void NetNs::destroy() {
  if (name_.empty()) return;
  if (home_fd_ >= 0) {
    setns(home_fd_, CLONE_NEWNET);
    g_home_fd = -1;
    close(home_fd_);
    home_fd_ = -1;
  }
  // ip netns del does the same (and says so when it cannot).
  std::string e;
  if (!run_command({"ip", "netns", "del", name_}, &e)) remove_namespace_now();
  g_ns_path[0] = '\0';
  name_.clear();
}

}  // namespace vnetqemu
