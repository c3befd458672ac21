#include "tools/vnet-surface/symbolize.h"

#include <nlohmann/json.hpp>

#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

#include "tools/vnet-surface/process.h"

namespace vnet::surface_tool {
namespace {

// Components of a demangled name, parameter lists and template arguments
// removed: "vnet::(anonymous namespace)::cfg8(vnet::Platform&)" ->
// {"vnet", "cfg8"}.
std::vector<std::string> components(std::string name) {
  size_t op = name.find("operator()");
  while (op != std::string::npos) {
    name.replace(op, 10, "operator_call");
    op = name.find("operator()");
  }
  std::string flat;
  int depth = 0;
  for (char c : name) {
    if (c == '(' || c == '<') {
      ++depth;
      continue;
    }
    if (c == ')' || c == '>') {
      if (depth > 0) --depth;
      continue;
    }
    if (depth == 0) flat += c;
  }
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= flat.size()) {
    size_t end = flat.find("::", start);
    if (end == std::string::npos) end = flat.size();
    std::string c = flat.substr(start, end - start);
    while (!c.empty() && c.back() == ' ') c.pop_back();
    if (c.size() > 6 && c.compare(c.size() - 6, 6, " const") == 0) c.resize(c.size() - 6);
    if (!c.empty()) out.push_back(c);
    start = end + 2;
  }
  return out;
}

}  // namespace

std::string function_base_name(const std::string& demangled) {
  const std::vector<std::string> c = components(demangled);
  return c.empty() ? demangled : c.back();
}

std::string function_short_name(const std::string& demangled) {
  std::vector<std::string> c = components(demangled);
  if (!c.empty() && c.front() == "vnet") c.erase(c.begin());
  std::string out;
  for (const std::string& part : c) {
    if (part.rfind("$_", 0) == 0 || part.rfind("{lambda", 0) == 0) {
      out += "(lambda)";
      break;
    }
    out += (out.empty() ? "" : "::") + part;
  }
  return out.empty() ? demangled : out;
}

void Symbolizer::resolve(const std::string& exe, const std::vector<uint64_t>& return_addresses) {
  auto& known = known_[exe];
  std::set<uint64_t> todo;
  for (uint64_t a : return_addresses)
    if (a != 0 && !known.count(a)) todo.insert(a);
  if (todo.empty()) return;
  const std::string in_path = scratch_ + "/symbolize.in";
  const std::string out_path = scratch_ + "/symbolize.out";
  {
    std::ofstream in(in_path);
    // A return address follows the call: look up the byte before it.
    for (uint64_t a : todo) in << "0x" << std::hex << (a - 1) << "\n";
  }
  Command cmd;
  cmd.argv = {program_, "--obj=" + exe, "--inlining", "--output-style=JSON", "--demangle"};
  cmd.stdin_path = in_path;
  cmd.stdout_path = out_path;
  cmd.stderr_path = scratch_ + "/symbolize.err";
  const int rc = run(cmd);
  if (rc != 0) throw std::runtime_error(program_ + " failed on " + exe);
  std::ifstream out(out_path);
  std::string line;
  auto next = todo.begin();
  while (std::getline(out, line) && next != todo.end()) {
    if (line.empty()) continue;
    const auto j = nlohmann::json::parse(line);
    Frames frames;
    if (j.contains("Symbol"))
      for (const auto& s : j["Symbol"]) {
        Frame f;
        f.function = s.value("FunctionName", "");
        f.file = s.value("FileName", "");
        f.line = s.value("Line", 0);
        frames.push_back(std::move(f));
      }
    known[*next++] = std::move(frames);
  }
  if (next != todo.end()) throw std::runtime_error(program_ + ": short output for " + exe);
}

const Frames& Symbolizer::frames(const std::string& exe, uint64_t return_address) const {
  const auto e = known_.find(exe);
  if (e == known_.end()) return none_;
  const auto f = e->second.find(return_address);
  return f == e->second.end() ? none_ : f->second;
}

}  // namespace vnet::surface_tool
