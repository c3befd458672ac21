// The static universe of read sites: every place in driver/ that takes a
// value from the device, enumerated from the source so that a site no world
// reaches shows up with zero hits instead of being missing.
//
// A read site is
//   * a direct call of the Platform's device-facing reads -- reg_read(),
//     bar_info(), fetch() -- outside driver/platform/ (the shim decorators
//     there only forward), unless it lies in a generic accessor;
//   * a call of a generic accessor: a helper whose one reg_read serves many
//     fields chosen by its caller's arguments (kAccessors: cfg8/16/32 for
//     PCI config space, PciModernTransport::common_read,
//     MmioTransport::mmio_read (the virtio-mmio window's registers), and the
//     transports' config_read for device-specific configuration). The
//     caller's line names the field; the accessor's own reg_read is not a
//     site.
//
// Sites are found textually (comments stripped, declarations and
// definitions skipped); vnet-surface cross-checks the text against what the
// driver really did: a read observed at run time that maps to no site here
// is reported as unlisted and fails the run.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace vnet::surface_tool {

inline constexpr const char* kAccessors[] = {"cfg8",        "cfg16",     "cfg32",
                                             "common_read", "mmio_read", "config_read"};
bool is_accessor(const std::string& function_base_name);

struct Site {
  std::string file;      // relative to the source root, e.g. driver/transport/pci_modern.cc
  int line = 0;          // line of the call
  int last_line = 0;     // last line of the call expression (arguments may wrap)
  std::string function;  // enclosing function, e.g. PciModernTransport::scan
  std::string kind;      // reg_read | bar_info | fetch
  std::string via;       // the accessor called, or empty for a direct call
  std::string field;     // e.g. common::kDeviceStatus, MemPart::kUsedIdx, net_cfg::kMtu
  std::string id() const { return file + ":" + std::to_string(line); }
};

// Every read site under <source_root>/driver, sorted by file and line.
std::vector<Site> enumerate_sites(const std::string& source_root);

// The site whose call expression covers file:line, or -1.
int find_site(const std::vector<Site>& sites, const std::string& file, int line);

}  // namespace vnet::surface_tool
