// BackendLoop: one vhost-user session served from a poll loop -- the
// front end's socket, the kick eventfds of the rings that run, and the
// device's own time.
//
//   run_once(timeout)   poll(socket, kicks..., timeout)
//                       socket readable   -> BackendSession::handle_message
//                       kick readable     -> BackendSession::on_kick (the
//                                            device consumes the ring)
//                       every kSweepMs while the rings run: the device's
//                       tick() (held completions, interrupt faults) and a
//                       transmit sweep -- chains no kick announced are
//                       taken and counted (sweep_frames)
//
// Threading: the thread that calls run_once() is the only one that touches
// the session and the device.
#pragma once

#include <stdint.h>

#include <chrono>
#include <string>

#include "vhost/backend/backend_session.h"
#include "vhost/backend/mock_device_backend.h"

namespace vnet::vhost {

class BackendLoop {
 public:
  static constexpr int kSweepMs = 5;

  BackendLoop(BackendSession& session, MockDeviceBackend& backend)
      : session_(session), backend_(backend) {}

  // One pass. False when the session is over (end() says why; failed()
  // when the front end broke the protocol rather than closing).
  bool run_once(int timeout_ms);

  const std::string& end() const { return end_; }
  bool failed() const { return failed_; }
  uint64_t sweep_frames() const { return sweep_frames_; }

 private:
  BackendSession& session_;
  MockDeviceBackend& backend_;
  std::chrono::steady_clock::time_point next_sweep_{};
  std::string end_;
  bool failed_ = false;
  uint64_t sweep_frames_ = 0;
};

}  // namespace vnet::vhost
