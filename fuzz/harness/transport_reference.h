// TransportReference: an executable reference of the virtio-pci probe and of
// the registers a correct driver may touch afterwards. It sharpens oracle (f)
// window from "somewhere the device advertised" to "the structures a correct
// probe chose", and adds the probe to oracle (h) decision.
//
//   OraclePlatform (every shim call) --> TransportReference
//        PCI config reads   -> the answers of this probe, per question
//        bar_info answers   -> per BAR, in the order they were given
//        BAR reads/writes   -> the offer read during the probe; afterwards
//                              queue selection, notify offsets, queue_enable
//   World, after each PciTransports::probe() --> check_probe()
//        (h): the outcome (which transport, or which refusal) and, for the
//             modern transport, its four windows and notify multiplier
//        from then on (f): every BAR access inside the chosen structures;
//             every notification to a queue the device enabled, at the
//             address its queue_notify_off names (4.1.4.4)
//
// The probe, as the specification has it (4.1.2, 4.1.4, 4.1.4.1-4.1.4.8,
// 5.1.4, 6.1): identity (vendor 0x1AF4; device 0x1041, or 0x1000 with
// subsystem 1); a capability list only with PCI status bit 4; the first
// usable capability of each of the four types wins; usable means cap_len of
// at least 16 (20 for notify, and the multiplier inside configuration
// space), a BAR index below 6, a minimum length (common 0x38, notify 2, ISR
// 1), alignment (common and device 4, notify 2), a multiplier of 0 or a
// power of two, and [offset, offset + length) inside a present BAR and
// below 4 GiB; then VERSION_1 in the offer and a device window long enough
// for the offered fields (MAC 6, STATUS 8, MQ 10, MTU 12). A transitional
// device falls back to its legacy interface: I/O BAR 0 of at least 0x14.
//
// Answers: PCI configuration space is a byte image of this probe (from the
// read of the vendor id on); a byte the device answered two ways within one
// probe is unknown. bar_info answers are consumed in the order the probe
// asks for them: once per capability that passed every other check, then
// once for the legacy BAR 0. A question the driver never asked, or asked
// too rarely, leaves the reference undetermined: then nothing is compared
// and no window is enforced (it can only hide a finding, never make one).
//
// Threading: one input at a time, one thread (the fuzz harness).
#pragma once

#include <stdint.h>

#include "driver/platform/platform.h"
#include "driver/transport/pci_probe.h"

namespace vnet::fuzz {

class TransportReference {
 public:
  void begin_input();

  void on_cfg_read(uint32_t offset, uint8_t width, uint32_t value);
  void on_cfg_write(uint32_t offset, uint8_t width, uint32_t value);
  void on_bar_info(uint8_t bar, const BarInfo& info);
  // BAR accesses (bar < 6), after the device answered a read.
  void on_bar_access(uint8_t bar, uint32_t offset, uint8_t width, bool write, uint32_t value);
  // Before a BAR access reaches the device: (f) against the chosen windows.
  // msix: the access lies in an MSI-X table or PBA the device advertised
  // (ProtocolReference::in_msix_window) -- the fifth structure a driver
  // with interrupts touches.
  void check_access(uint8_t bar, uint32_t offset, uint8_t width, bool write, uint32_t value,
                    bool msix, const void* pc);

  // The queue a BAR write notifies on the transport in use (-1: none, or
  // unknown).
  int notified_queue(uint8_t bar, uint32_t offset, uint8_t width, uint32_t value) const;
  // Whether notified_queue() sees every notification: a transport is in
  // use whose notify window overlaps no other structure.
  bool sees_notifications() const;

  // After PciTransports::probe(mode) returned r.
  void check_probe(PciMode mode, const ProbeResult& r);

  // (h) after an attach: a driver whose config or queue vector read back
  // other than written (4.1.5.1.2.2: NO_VECTOR, or another vector) since
  // the last reset, or whose MSI-X enable bit read back clear after it set
  // it, must not run on MSI-X -- the device would not send it those
  // interrupts.
  void check_interrupt_mode(InterruptMode mode) const;

  // ISR reads (4.1.4.5) since mark_interrupt(), for the interrupt
  // reference: how many, the last value, and whether the transport in use
  // is known (otherwise they cannot be told apart).
  void mark_interrupt() { isr_reads_ = 0; }
  // (An ISR window that overlaps another structure makes a read there
  // ambiguous: not visible then.)
  bool isr_visible() const;
  uint32_t isr_reads() const { return isr_reads_; }
  uint8_t last_isr() const { return last_isr_; }

  // (g) around VirtioNet::poll_device(): the link state may change only to
  // what a consistent read of the status field said (2.4.1: a read between
  // two equal config_generation values; legacy: two agreeing reads). Call
  // mark_link() before, check_link() after (not when it re-initialised).
  void mark_link();
  void check_link(bool link_before, bool link_after);

  // A few facts for the oracle tests.
  bool determined() const { return chosen_ != Outcome::kUndetermined; }

 private:
  enum class Outcome : uint8_t {
    kUndetermined,
    kNotVirtio,
    kNotNet,
    kModern,
    kModernUnusable,
    kLegacy,
    kLegacyUnusable,
  };
  struct Window {
    bool valid = false;
    uint8_t bar = 0;
    uint32_t offset = 0;
    uint32_t length = 0;
  };
  enum Kind : uint8_t { kCommon, kNotify, kIsr, kDevice, kKinds };
  static constexpr int kMaxBarAnswers = 64;
  static constexpr int kMaxLog = 32;
  static constexpr uint16_t kMaxQueues = 64;

  // Questions of the probe; false: undetermined.
  bool cfg(uint32_t offset, uint8_t width, uint32_t* out) const;
  bool next_bar_info(uint8_t bar, BarInfo* out);
  bool offer(const Window& common, uint64_t* out) const;
  Outcome walk(PciMode mode, Window* windows, uint32_t* multiplier, uint64_t* legacy_size);
  Outcome walk_modern(Window* windows, uint32_t* multiplier);
  bool inside(const Window& w, uint8_t bar, uint32_t offset, uint8_t width) const;
  // Where legacy device configuration starts: 0x14, or 0x18 with MSI-X on.
  uint32_t legacy_config() const;
  void accepted(uint32_t features_lo, uint32_t window);
  // 0: config_msix_vector, 1: queue_msix_vector.
  void vector_access(int which, bool write, uint32_t value);
  void notification(uint8_t bar, uint32_t offset, uint8_t width, uint32_t value, const void* pc);
  // (h) when the driver sets MSI-X enable in the capability at cap.
  void check_msix_enable(uint32_t cap) const;

  // This probe's answers (and, after it, the capabilities read at attach).
  bool probing_ = false;
  bool msix_enabled_ = false;         // the driver set MSI-X enable (message control)
  bool msix_enable_refused_ = false;  // ... and a later read showed it clear
  // Per BAR, the largest size any bar_info answer since the probe gave it as
  // a present memory BAR (0: none did).
  uint64_t mem_bar_size_[6] = {};
  uint8_t cfg_[256] = {};
  uint8_t cfg_state_[256] = {};  // 0 unknown, 1 answered, 2 answered two ways
  BarInfo bar_answers_[kMaxBarAnswers] = {};
  uint8_t bar_answer_bar_[kMaxBarAnswers] = {};
  int num_bar_answers_ = 0;
  bool bar_answer_used_[kMaxBarAnswers] = {};
  struct Access {
    uint8_t bar;
    bool write;
    uint8_t width;
    uint32_t offset;
    uint32_t value;
  };
  Access log_[kMaxLog] = {};
  int num_log_ = 0;
  bool log_overflow_ = false;

  // The transport a correct driver uses now (from the last successful
  // probe; a failed one leaves it: PciTransports::probe is transactional).
  Outcome chosen_ = Outcome::kUndetermined;
  Window windows_[kKinds] = {};
  uint32_t multiplier_ = 0;
  uint64_t legacy_size_ = 0;
  // Queue state of the chosen transport, from the driver's own accesses.
  uint16_t select_ = 0;
  uint32_t driver_select_ = 0;
  uint32_t notify_off_[kMaxQueues] = {};
  bool notify_off_known_[kMaxQueues] = {};
  bool enable_written_[kMaxQueues] = {};
  bool enabled_[kMaxQueues] = {};
  uint32_t isr_reads_ = 0;
  uint8_t last_isr_ = 0;
  // MSI-X vectors (config_msix_vector, queue_msix_vector) since the last
  // reset: the value written last, and a read-back that disagreed.
  uint32_t vector_written_[2] = {};
  bool vector_pending_[2] = {};
  bool vector_refused_ = false;
  uint16_t refused_value_ = 0;
  // Reads of the status field (device configuration offset 6) since
  // mark_link(): the first consistent value, if any.
  bool gen_valid_ = false;
  uint8_t gen_ = 0;
  bool status_pending_ = false;
  uint32_t status_value_ = 0;
  uint32_t status_reads_ = 0;
  bool consistent_ = false;
  uint32_t consistent_value_ = 0;
};

}  // namespace vnet::fuzz
