#include "mock_device/scenario/device_step.h"

namespace vnet::scenario {
namespace {

std::string qname(uint16_t q) {
  return q == 0 ? "rx" : q == 1 ? "tx" : q == 2 ? "ctrl" : "queue " + std::to_string(q);
}

}  // namespace

std::optional<std::string> apply_device_step(mock::MockDevice& device, const Step& step) {
  switch (step.kind) {
    case StepKind::kLink:
      device.set_link(step.link);
      return std::string("link ") + (step.link ? "up" : "down");
    case StepKind::kDeviceReset:
      device.device_reset();
      return "device reset itself";
    case StepKind::kRegister:
      device.lie_about_register(step.lie);
      return "register lie armed";
    case StepKind::kPublishUsed: {
      if (step.used_next) {
        const bool ok = device.complete_unwritten(
            step.queue, step.used_len_given ? int64_t(step.used_len) : -1);
        return "device completed the next available " + qname(step.queue) +
               " chain without writing it" + (ok ? "" : " (nothing available)");
      }
      const bool ok = device.publish_used(step.queue, step.used_id, step.used_len);
      return "device published used {id " + std::to_string(step.used_id) + ", len " +
             std::to_string(step.used_len) + "} on " + qname(step.queue) +
             (ok ? "" : " (queue not usable)");
    }
    case StepKind::kIgnoreReset:
      device.set_ignore_reset(step.link);
      return step.link ? "device ignores resets from now on" : "device acknowledges resets again";
    case StepKind::kRepublishUsed: {
      const bool lied = device.republish_last_used(step.queue);
      return "device republished its last used entry of queue " + qname(step.queue) +
             (lied ? "" : " (nothing to republish)");
    }
    case StepKind::kFault:
      device.arm(step.fault);
      return std::string("fault armed: ") + mock::fault_kind_name(step.fault.kind);
    case StepKind::kClearFaults:
      device.clear_faults();
      return "faults cleared";
    case StepKind::kRewriteDescriptor: {
      bool ok = true;
      for (const auto& [field, value] : step.desc_fields)
        ok = device.rewrite_descriptor(step.queue, step.desc_index, field, value) && ok;
      return "device rewrote descriptor " + std::to_string(step.desc_index) + " of " +
             qname(step.queue) + (ok ? "" : " (queue not usable or index out of range)");
    }
    case StepKind::kWriteUsedIdx: {
      const uint16_t v = step.used_idx_relative
                             ? uint16_t(device.ring(step.queue).used_idx() + step.used_idx)
                             : step.used_idx;
      const bool ok = device.write_used_idx(step.queue, v);
      return "device wrote used.idx " + std::to_string(v) + " on " + qname(step.queue) +
             (ok ? "" : " (queue not usable)");
    }
    case StepKind::kHold:
      device.hold_completions(step.queue, step.count, step.hold_delay, step.order, step.seed);
      return "device holds " + (step.count ? std::to_string(step.count) : std::string("every")) +
             " " + qname(step.queue) + " completion(s) back" +
             (step.hold_delay ? " for " + std::to_string(step.hold_delay) + " pumps"
                              : std::string(" until released"));
    case StepKind::kRelease: {
      const size_t n = device.release_held(step.queue, step.order, step.seed,
                                           step.count ? step.count : SIZE_MAX);
      return "device released " + std::to_string(n) + " held " + qname(step.queue) +
             " completion(s)";
    }
    case StepKind::kPciConfig:
      device.poke_pci_config(step.poke.offset, step.poke.width, step.poke.value);
      return "PCI config space rewritten at " + std::to_string(step.poke.offset);
    case StepKind::kBar:
      device.lie_about_bar(step.bar);
      return "BAR " + std::to_string(step.bar.bar) + " lie armed";
    case StepKind::kConfig:
      if (step.cfg_mtu) device.set_mtu(*step.cfg_mtu);
      if (step.cfg_mac) device.set_mac(*step.cfg_mac);
      if (step.cfg_status) device.set_config_status(*step.cfg_status);
      if (step.cfg_max_pairs) device.set_max_virtqueue_pairs(*step.cfg_max_pairs);
      return "device config changed";
    case StepKind::kConfigInterrupt:
      device.raise_config_change();
      return "device raised a configuration change interrupt";
    case StepKind::kProcessTx: {
      const size_t n = device.process_tx(step.count);
      return "device processed " + std::to_string(n) + " tx chain(s)";
    }
    default:
      return std::nullopt;
  }
}

}  // namespace vnet::scenario
