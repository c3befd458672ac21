#include "vhost/backend/backend_loop.h"

#include <errno.h>
#include <poll.h>

#include <cstring>
#include <vector>

namespace vnet::vhost {

bool BackendLoop::run_once(int timeout_ms) {
  if (!end_.empty()) return false;
  std::vector<pollfd> fds{{session_.fd(), POLLIN, 0}};
  const auto kicks = session_.kick_fds();
  for (const auto& [fd, index] : kicks) fds.push_back({fd, POLLIN, 0});
  const int n = poll(fds.data(), fds.size(), timeout_ms);
  if (n < 0 && errno != EINTR) {
    end_ = std::string("poll: ") + strerror(errno);
    failed_ = true;
    return false;
  }
  if (n > 0) {
    if ((fds[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0 && !session_.handle_message()) {
      failed_ = !session_.error().empty();
      end_ =
          failed_ ? "protocol error: " + session_.error() : "the front end closed the connection";
      return false;
    }
    for (size_t i = 1; i < fds.size(); ++i)
      if ((fds[i].revents & POLLIN) != 0) session_.on_kick(kicks[i - 1].second);
  }
  if (!backend_.running()) return true;
  const auto now = std::chrono::steady_clock::now();
  if (now >= next_sweep_) {
    backend_.device().tick();
    sweep_frames_ += backend_.device().process_tx();
    next_sweep_ = now + std::chrono::milliseconds(kSweepMs);
  }
  return true;
}

}  // namespace vnet::vhost
