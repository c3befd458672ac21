// SiteCounts: how often each place in the driver took a device value, and
// which values it took.
//
// A place is identified by the call stack at the moment the value crossed
// the Platform interface (return addresses, innermost first, inside the
// main executable only). The stack, not just the caller's address, because
// the semantic read site is often one or two frames up: a transport
// accessor (common_read, config_read) is called from many places, and a
// decorator (the fuzz oracle, the recorder) may sit between the driver and
// this counter. tools/vnet-surface symbolises the stacks offline and maps
// each to a read site of driver/.
//
// Per stack and kind: the number of hits, and the distinct values seen, up
// to kMaxValues (then "more"). Values are the register value, the bar_info
// result packed into 64 bits, or the fetched bytes (raw when they fit 64
// bits, else a 64-bit hash); a fetched run of used elements counts one value
// per element.
//
// Thread-safe. One table per process (instance()); write_json() dumps it.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <cstdio>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace vnet::surface {

enum class ReadKind : uint8_t { kRegRead, kBarInfo, kFetch };
const char* read_kind_name(ReadKind k);

class SiteCounts {
 public:
  static constexpr size_t kMaxFrames = 14;
  static constexpr size_t kMaxValues = 64;

  struct Stack {
    uint8_t depth = 0;
    uintptr_t pcs[kMaxFrames] = {};
  };

  static SiteCounts& instance();

  // The caller's stack (return addresses inside the main executable, the
  // innermost frames of the unwinder and of this library dropped later by
  // symbolisation, not here).
  static Stack capture();

  void add(ReadKind kind, const Stack& stack, const uint64_t* values, size_t n);

  // {"version":1,"exe":...,"records":[{"kind":..,"pcs":[..],"hits":..,
  //   "values":[..],"more":bool}]}; pcs are addresses in the executable's
  // ELF image (load bias removed), as llvm-symbolizer --obj wants them.
  void write_json(std::FILE* out) const;
  size_t size() const;
  // Counts add() calls so far (a writer can skip an unchanged table).
  uint64_t changes() const;

 private:
  struct Key {
    ReadKind kind;
    Stack stack;
    bool operator==(const Key& o) const;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const;
  };
  struct Entry {
    uint64_t hits = 0;
    std::vector<uint64_t> values;
    bool more = false;
  };

  mutable std::mutex mu_;
  uint64_t changes_ = 0;
  std::unordered_map<Key, Entry, KeyHash> table_;
};

// 64-bit FNV-1a of bytes (values wider than 64 bits).
uint64_t hash_bytes(const void* data, size_t len);

}  // namespace vnet::surface
