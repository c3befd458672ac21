// The surface map of one world: per read site (sites.h), how often the
// driver took a device value there and how many distinct values it took,
// built from the SiteCounts dumps (surface/site_counts.h) of the world's runs.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "tools/vnet-surface/sites.h"
#include "tools/vnet-surface/symbolize.h"

namespace vnet::surface_tool {

inline constexpr size_t kMaxDistinct = 64;

// Hits and the distinct values seen (at most kMaxDistinct kept).
struct ValueSet {
  uint64_t hits = 0;
  std::set<uint64_t> values;
  bool more = false;  // more distinct values than kept

  void add_values(const std::vector<uint64_t>& v, bool more_flag);
  void merge(const ValueSet& o);
  std::string distinct_text() const;  // "12", ">64"
};

struct SiteStats : ValueSet {
  // The net-layer call that led to a transport or ring read (e.g. the
  // FEATURES_OK read-back and the reset wait both read device status):
  // "driver/net/virtio_net.cc:217 VirtioNet::bring_up" -> hits, values.
  std::map<std::string, ValueSet> uses;
};

struct WorldMap {
  std::string name;
  int runs = 0;                  // commands run
  int nonzero_exits = 0;         // of those, how many exited non-zero (findings, failing scenarios)
  int dumps = 0;                 // SiteCounts dumps found
  std::vector<SiteStats> sites;  // indexed like the site list
  uint64_t outside_driver = 0;   // hits with no driver/ frame on the stack
  // Driver reads that map to no enumerated site: "file:line function" -> hits.
  std::map<std::string, uint64_t> unlisted;
  std::vector<std::string> notes;
};

// Where a call stack's read belongs.
struct Resolution {
  int site = -1;  // index into the site list, or -1
  bool in_driver = false;
  std::string where;  // file:line function of the innermost non-accessor driver frame
  std::string use;    // the net-layer caller, if the site is below it
};

class MapBuilder {
 public:
  MapBuilder(const std::vector<Site>& sites, std::string source_root, Symbolizer& symbolizer)
      : sites_(sites), root_(std::move(source_root)), sym_(symbolizer) {}

  // Adds one dump (the JSON a process wrote at exit) to world.
  void add_dump(WorldMap& world, const nlohmann::json& dump);
  // Path relative to the source root (debug info has absolute paths).
  std::string relative(const std::string& file) const;

 private:
  Resolution resolve(const std::string& exe, const std::vector<uint64_t>& pcs) const;

  const std::vector<Site>& sites_;
  std::string root_;
  Symbolizer& sym_;
};

}  // namespace vnet::surface_tool
