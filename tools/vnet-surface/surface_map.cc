#include "tools/vnet-surface/surface_map.h"

namespace vnet::surface_tool {

void ValueSet::add_values(const std::vector<uint64_t>& v, bool more_flag) {
  more = more || more_flag;
  for (uint64_t x : v) {
    if (values.size() == kMaxDistinct && !values.count(x)) {
      more = true;
      break;
    }
    values.insert(x);
  }
}

void ValueSet::merge(const ValueSet& o) {
  hits += o.hits;
  add_values(std::vector<uint64_t>(o.values.begin(), o.values.end()), o.more);
}

std::string ValueSet::distinct_text() const {
  if (more) return ">" + std::to_string(kMaxDistinct);
  return std::to_string(values.size());
}

std::string MapBuilder::relative(const std::string& file) const {
  if (!root_.empty() && file.rfind(root_ + "/", 0) == 0) return file.substr(root_.size() + 1);
  // Built elsewhere than this checkout: anchor on the project's top folders.
  for (const char* top : {"/driver/", "/surface/", "/fuzz/", "/replay/", "/mock_device/"}) {
    const size_t p = file.rfind(top);
    if (p != std::string::npos) return file.substr(p + 1);
  }
  return file;
}

Resolution MapBuilder::resolve(const std::string& exe, const std::vector<uint64_t>& pcs) const {
  struct Flat {
    std::string file;
    int line;
    std::string function;
  };
  std::vector<Flat> frames;
  for (uint64_t pc : pcs)
    for (const Frame& f : sym_.frames(exe, pc))
      frames.push_back({relative(f.file), f.line, f.function});
  auto in_driver = [](const std::string& f) {
    return f.rfind("driver/", 0) == 0 && f.rfind("driver/platform/", 0) != 0;
  };
  Resolution r;
  size_t i = 0;
  while (i < frames.size() && !in_driver(frames[i].file)) ++i;
  if (i == frames.size()) return r;
  r.in_driver = true;
  while (i < frames.size() && in_driver(frames[i].file) &&
         is_accessor(function_base_name(frames[i].function)))
    ++i;
  if (i == frames.size() || !in_driver(frames[i].file)) {
    r.where = "(an accessor called from outside driver/)";
    return r;
  }
  r.where = frames[i].file + ":" + std::to_string(frames[i].line) + " " +
            function_short_name(frames[i].function);
  r.site = find_site(sites_, frames[i].file, frames[i].line);
  if (frames[i].file.rfind("driver/net/", 0) != 0) {
    for (size_t j = i + 1; j < frames.size(); ++j) {
      if (frames[j].file.rfind("driver/net/", 0) != 0) continue;
      r.use = frames[j].file + ":" + std::to_string(frames[j].line) + " " +
              function_short_name(frames[j].function);
      break;
    }
  }
  return r;
}

void MapBuilder::add_dump(WorldMap& world, const nlohmann::json& dump) {
  const std::string exe = dump.at("exe").get<std::string>();
  std::vector<uint64_t> all;
  std::vector<std::vector<uint64_t>> stacks;
  for (const auto& rec : dump.at("records")) {
    std::vector<uint64_t> pcs;
    for (const auto& p : rec.at("pcs"))
      pcs.push_back(std::stoull(p.get<std::string>(), nullptr, 16));
    all.insert(all.end(), pcs.begin(), pcs.end());
    stacks.push_back(std::move(pcs));
  }
  sym_.resolve(exe, all);
  ++world.dumps;
  if (world.sites.size() != sites_.size()) world.sites.resize(sites_.size());
  size_t k = 0;
  for (const auto& rec : dump.at("records")) {
    const std::vector<uint64_t>& pcs = stacks[k++];
    const uint64_t hits = rec.at("hits").get<uint64_t>();
    const Resolution r = resolve(exe, pcs);
    if (!r.in_driver) {
      world.outside_driver += hits;
      continue;
    }
    if (r.site < 0) {
      world.unlisted[r.where + " (" + rec.at("kind").get<std::string>() + ")"] += hits;
      continue;
    }
    SiteStats& s = world.sites[static_cast<size_t>(r.site)];
    s.hits += hits;
    std::vector<uint64_t> values;
    for (const auto& v : rec.at("values"))
      values.push_back(std::stoull(v.get<std::string>(), nullptr, 16));
    s.add_values(values, rec.at("more").get<bool>());
    if (!r.use.empty()) {
      ValueSet& u = s.uses[r.use];
      u.hits += hits;
      u.add_values(values, rec.at("more").get<bool>());
    }
  }
}

}  // namespace vnet::surface_tool
