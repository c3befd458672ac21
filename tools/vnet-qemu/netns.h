// A private network namespace for one run (--net tap): created before QEMU
// starts, removed on every exit path, never touching the host's network.
//
//   ip netns add vnetq-PID                  the namespace (/run/netns/...)
//   ip -n NS link set lo up
//   ip -n NS tuntap add dev vnt0 mode tap [multi_queue]
//   ip -n NS addr add 10.0.2.2/24 dev vnt0  the runner's side of the link
//   ip -n NS link set vnt0 up
//   setns(NS)                               the runner enters it: QEMU (its
//                                           child) opens the tap there and
//                                           the runner's sockets reach the
//                                           guest, 10.0.2.15, through it
//
// Nothing in the namespace routes anywhere: it has lo and the tap, and
// 10.0.2.0/24 on the tap; IPv6 is off there (disable_ipv6), so the only
// frames on the link are the test's and ARP. Removal (destroy(), the destructor, an atexit
// hook, and SIGINT/SIGTERM/SIGHUP/SIGQUIT through QemuProcess's handler,
// after QEMU was killed): the runner goes back to its own namespace and the
// namespace's mount at /run/netns is detached and unlinked (what
// `ip netns del` does; async-signal-safe), so the namespace, and the tap in
// it, disappear with their last user. Only a SIGKILL of the runner leaves
// the name behind (`ip netns del vnetq-PID`).
//
// Needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN), /dev/net/tun and iproute2's
// `ip`; create() says which is missing. set_mtu() gives the tap the MTU of
// a jumbo run (--host-mtu), so the host's side sends frames that large.
#pragma once

#include <stdint.h>

#include <string>
#include <vector>

namespace vnetqemu {

class NetNs {
 public:
  NetNs() = default;
  NetNs(const NetNs&) = delete;
  NetNs& operator=(const NetNs&) = delete;
  ~NetNs() { destroy(); }

  // Creates the namespace and the tap (multi_queue when queues > 1) and
  // enters it. False, with *error saying why, when anything is missing
  // (*missing: root, /dev/net/tun or ip, which a test may skip on); what
  // was created is removed again.
  bool create(uint32_t queues, std::string* error, bool* missing);
  // The tap's MTU (--host-mtu): `ip -n NS link set vnt0 mtu N`.
  bool set_mtu(uint32_t mtu, std::string* error);
  // Leaves and removes the namespace; idempotent.
  void destroy();

  const std::string& name() const { return name_; }
  const std::string& ifname() const { return ifname_; }
  bool active() const { return !name_.empty(); }

 private:
  std::string name_;
  std::string ifname_ = "vnt0";
  int home_fd_ = -1;  // the runner's own network namespace
};

// Runs argv (no shell), waits for it; false with its stderr in *error when
// it fails. For `ip`.
bool run_command(const std::vector<std::string>& argv, std::string* error);

}  // namespace vnetqemu
