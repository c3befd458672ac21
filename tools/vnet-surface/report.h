// The surface map as a text table (CI output), a Markdown table
// (docs/attack-surface.md) and JSON (per world and merged).
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "tools/vnet-surface/sites.h"
#include "tools/vnet-surface/surface_map.h"

namespace vnet::surface_tool {

// Fuzz targets (worlds marked fuzz) that reached site i.
int fuzz_reach(const std::vector<WorldMap>& worlds, const std::vector<bool>& is_fuzz, size_t i);

// The values all fuzz targets together gave site i.
ValueSet fuzz_values(const std::vector<WorldMap>& worlds, const std::vector<bool>& is_fuzz,
                     size_t i);

std::string text_table(const std::vector<Site>& sites, const std::vector<WorldMap>& worlds,
                       const std::vector<bool>& is_fuzz);
std::string markdown_table(const std::vector<Site>& sites, const std::vector<WorldMap>& worlds,
                           const std::vector<bool>& is_fuzz);
// Per transport/ring site: the net-layer calls that reached it, with the
// worlds (and hits) that took each path.
std::string markdown_uses(const std::vector<Site>& sites, const std::vector<WorldMap>& worlds);

nlohmann::json world_json(const std::vector<Site>& sites, const WorldMap& world);
nlohmann::json merged_json(const std::vector<Site>& sites, const std::vector<WorldMap>& worlds,
                           const std::vector<bool>& is_fuzz);

}  // namespace vnet::surface_tool
