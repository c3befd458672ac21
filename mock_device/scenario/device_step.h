// Device steps: the steps of a scenario (scenario.h) that only act on the
// device -- a lie told, a fault armed, a link change, a configuration
// change -- carried out on a MockDevice, with a line saying what was done.
// The scenario runner uses it for its device steps and hooks; the
// vhost-user back end (tools/vnet-vhost-device) for a scenario's timeline
// against a guest's driver it does not drive.
#pragma once

#include <optional>
#include <string>

#include "mock_device/mock_device.h"
#include "mock_device/scenario/scenario.h"

namespace vnet::scenario {

// Carries out step on device when it is a device step and returns what was
// done; nullopt (and nothing done) for every other kind.
std::optional<std::string> apply_device_step(mock::MockDevice& device, const Step& step);

}  // namespace vnet::scenario
