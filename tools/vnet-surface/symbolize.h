// Call stacks to source frames, with inlining, through llvm-symbolizer.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace vnet::surface_tool {

struct Frame {
  std::string function;  // demangled, with parameters
  std::string file;      // as the debug info has it (absolute)
  int line = 0;
};

// One address: its frames, innermost (most inlined) first.
using Frames = std::vector<Frame>;

class Symbolizer {
 public:
  // program: llvm-symbolizer (found on PATH by the caller); scratch: a
  // directory for its input and output files.
  Symbolizer(std::string program, std::string scratch)
      : program_(std::move(program)), scratch_(std::move(scratch)) {}

  // Symbolises every address of exe not yet known (addresses in the ELF
  // image, as site_counts.h writes them; return addresses: the call
  // instruction is looked up). Throws std::runtime_error when the
  // symbolizer fails.
  void resolve(const std::string& exe, const std::vector<uint64_t>& return_addresses);
  const Frames& frames(const std::string& exe, uint64_t return_address) const;

 private:
  std::string program_, scratch_;
  std::map<std::string, std::map<uint64_t, Frames>> known_;
  Frames none_;
};

// The function's name without namespace, class or parameters:
// "vnet::(anonymous namespace)::cfg8(vnet::Platform&, unsigned int)" -> "cfg8";
// lambdas ("...::negotiate_config(...)::$_0::operator()(...) const") -> "operator()".
std::string function_base_name(const std::string& demangled);
// "vnet::PciModernTransport::scan(vnet::Platform&, ...)" -> "PciModernTransport::scan";
// lambdas -> "VirtioNet::negotiate_config(lambda)".
std::string function_short_name(const std::string& demangled);

}  // namespace vnet::surface_tool
