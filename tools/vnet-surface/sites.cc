#include "tools/vnet-surface/sites.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <stdexcept>

namespace vnet::surface_tool {
namespace fs = std::filesystem;

bool is_accessor(const std::string& name) {
  for (const char* a : kAccessors)
    if (name == a) return true;
  return false;
}

namespace {

// The file's lines with comments blanked (string literals kept as they are:
// the driver has none that look like calls).
std::vector<std::string> code_lines(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::vector<std::string> out;
  std::string line;
  bool in_block = false;
  while (std::getline(in, line)) {
    std::string code;
    bool in_string = false;
    for (size_t i = 0; i < line.size(); ++i) {
      if (in_block) {
        if (line.compare(i, 2, "*/") == 0) {
          in_block = false;
          ++i;
        }
        continue;
      }
      if (!in_string && line.compare(i, 2, "//") == 0) break;
      if (!in_string && line.compare(i, 2, "/*") == 0) {
        in_block = true;
        ++i;
        continue;
      }
      if (line[i] == '"' && (i == 0 || line[i - 1] != '\\')) in_string = !in_string;
      code += line[i];
    }
    out.push_back(code);
  }
  return out;
}

std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

// The function whose definition encloses line i: the nearest line above
// that starts in column 0 with a declarator (clang-format puts every
// function definition of driver/ there).
std::string enclosing_function(const std::vector<std::string>& code, size_t i) {
  static const std::regex name_re(R"(((?:\w+::)*~?\w+)\s*$)");
  for (size_t j = i + 1; j-- > 0;) {
    const std::string& l = code[j];
    if (l.empty() || l[0] == ' ' || l[0] == '\t' || l[0] == '}' || l[0] == '#') continue;
    const size_t paren = l.find('(');
    if (paren == std::string::npos) continue;
    std::smatch m;
    const std::string head = l.substr(0, paren);
    if (std::regex_search(head, m, name_re)) return m[1];
    return "?";
  }
  return "?";
}

std::string base_name(const std::string& qualified) {
  const size_t c = qualified.rfind("::");
  return c == std::string::npos ? qualified : qualified.substr(c + 2);
}

// The argument text of the call whose '(' is at code[line][open], and the
// line where it closes.
std::string call_arguments(const std::vector<std::string>& code, size_t line, size_t open,
                           int* last_line) {
  std::string args;
  int depth = 0;
  for (size_t l = line; l < code.size() && l < line + 8; ++l) {
    for (size_t c = (l == line ? open : 0); c < code[l].size(); ++c) {
      const char ch = code[l][c];
      if (ch == '(') {
        if (depth++ == 0) continue;
      } else if (ch == ')') {
        if (--depth == 0) {
          *last_line = static_cast<int>(l) + 1;
          return args;
        }
      }
      args += ch;
    }
    args += ' ';
  }
  *last_line = static_cast<int>(line) + 1;
  return args;
}

std::string field_of(const std::string& args, const std::string& kind, const std::string& fn) {
  static const std::regex const_re(R"((?:\w+::)*k[A-Z]\w*)");
  static const std::regex part_re(R"(MemPart::k\w+)");
  std::smatch part;
  if (kind == "fetch" && std::regex_search(args, part, part_re)) return part.str();
  for (auto it = std::sregex_iterator(args.begin(), args.end(), const_re);
       it != std::sregex_iterator(); ++it) {
    std::string c = it->str();
    if (c.rfind("Region::", 0) == 0) continue;
    if (c.rfind("spec::", 0) == 0) c = c.substr(6);
    return c;
  }
  if (kind == "bar_info") return "BarInfo(" + trim(args) + ")";
  return base_name(fn) + "()";
}

}  // namespace

std::vector<Site> enumerate_sites(const std::string& source_root) {
  const fs::path root(source_root);
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(root / "driver")) {
    if (!e.is_regular_file()) continue;
    const std::string ext = e.path().extension().string();
    if (ext != ".cc" && ext != ".h") continue;
    const std::string rel = fs::relative(e.path(), root).generic_string();
    if (rel.rfind("driver/platform/", 0) == 0) continue;  // the shim and its decorators
    files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());

  static const std::regex direct_re(R"((->|\.)\s*(reg_read|bar_info|fetch)\s*\()");
  static const std::regex accessor_re(
      R"(\b(cfg8|cfg16|cfg32|common_read|mmio_read|config_read)\s*\()");
  static const std::regex decl_re(
      R"(\b(?:uint8_t|uint16_t|uint32_t|uint64_t|bool|void|int|auto)\s+(?:\w+::)*(cfg8|cfg16|cfg32|common_read|mmio_read|config_read)\s*\()");

  std::vector<Site> sites;
  for (const fs::path& path : files) {
    const std::vector<std::string> code = code_lines(path.string());
    const std::string rel = fs::relative(path, root).generic_string();
    for (size_t i = 0; i < code.size(); ++i) {
      const std::string& l = code[i];
      auto add = [&](const std::string& kind, const std::string& via, size_t open) {
        Site s;
        s.file = rel;
        s.line = static_cast<int>(i) + 1;
        s.function = enclosing_function(code, i);
        s.kind = kind;
        s.via = via;
        const std::string args = call_arguments(code, i, open, &s.last_line);
        s.field = field_of(args, kind, s.function);
        sites.push_back(s);
      };
      for (auto it = std::sregex_iterator(l.begin(), l.end(), direct_re);
           it != std::sregex_iterator(); ++it) {
        if (is_accessor(base_name(enclosing_function(code, i)))) continue;
        add((*it)[2], "", static_cast<size_t>(it->position() + it->length() - 1));
      }
      const bool declaration = !l.empty() && l[0] != ' ' && l[0] != '\t';
      if (declaration || l.find("virtual") != std::string::npos ||
          l.find("override") != std::string::npos || std::regex_search(l, decl_re))
        continue;
      for (auto it = std::sregex_iterator(l.begin(), l.end(), accessor_re);
           it != std::sregex_iterator(); ++it)
        add("reg_read", (*it)[1], static_cast<size_t>(it->position() + it->length() - 1));
    }
  }
  return sites;
}

int find_site(const std::vector<Site>& sites, const std::string& file, int line) {
  for (size_t i = 0; i < sites.size(); ++i)
    if (sites[i].file == file && line >= sites[i].line && line <= sites[i].last_line)
      return static_cast<int>(i);
  return -1;
}

}  // namespace vnet::surface_tool
